//! End-to-end tests of the `svdiag` binary: outputs (snapshots), exit codes, and one test per
//! error message. Hostile files are crafted byte by byte in each test.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{json, Value};

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/reference")
}

/// `svdiag` run in `dir`, with stable, colourless output.
fn svdiag(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("svdiag").unwrap();
    c.current_dir(dir).env("NO_COLOR", "1").env("COLUMNS", "100");
    c
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &Path, args: &[&str]) -> Out {
    let o = svdiag(dir).args(args).output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

/// A safetensors file from `(name, dtype, shape, bytes)`; offsets in the given order.
fn safetensors(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        header.insert(
            name.to_string(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [data.len(), data.len() + bytes.len()]}),
        );
        data.extend_from_slice(bytes);
    }
    let h = serde_json::to_vec(&Value::Object(header)).unwrap();
    raw_file(&h, &data)
}

fn raw_file(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    out
}

fn f32s(n: usize, seed: u32) -> Vec<u8> {
    // a deterministic, full-rank-ish pattern
    (0..n)
        .flat_map(|i| {
            let x = ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 1000.0 - 0.5;
            x.to_le_bytes()
        })
        .collect()
}

/// Rounds every float in a JSON document to 9 significant digits: snapshots then check structure
/// and values without depending on the last bits of a platform's SIMD kernels.
/// Snapshots keep 7 significant digits: the numbers are checked against NumPy to 1e-9 elsewhere, and
/// the last digits of ill-conditioned values (κ ≈ 5e8 of an f32-stored low-rank matrix) depend on
/// the CPU's vector kernels.
fn rounded(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = tidy(n.as_f64().unwrap());
            json!(format!("{x:.6e}").parse::<f64>().unwrap())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(rounded).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, rounded(v))).collect()),
        other => other,
    }
}

/// A value within 1e-12 of zero is rounding noise (e.g. log10 σ₁ of a matrix with σ₁ = 1, whose
/// last bits depend on the CPU's vector kernels): snapshotted as 0.
fn tidy(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        0.0
    } else {
        x
    }
}

fn round_csv(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.split(',')
                .map(|cell| match cell.parse::<f64>() {
                    Ok(x) if cell.contains('.') || cell.contains('e') => format!("{:.6e}", tidy(x)),
                    _ => cell.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn help() {
    let dir = reference_dir();
    insta::assert_snapshot!("help", run(&dir, &["--help"]).stdout);
    insta::assert_snapshot!("analyze_help", run(&dir, &["analyze", "--help"]).stdout);
}

#[test]
fn table_output() {
    let out = run(&reference_dir(), &["analyze", "reference.safetensors", "--format", "table"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    insta::assert_snapshot!("table", out.stdout);
}

#[test]
fn table_columns_are_selectable() {
    let out = run(
        &reference_dir(),
        &[
            "analyze",
            "reference.safetensors",
            "-f",
            "table",
            "--columns",
            "numerical_rank,l12_norm",
            "--filter",
            "gauss",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("table_columns", out.stdout);
}

#[test]
fn json_output() {
    let out = run(&reference_dir(), &["analyze", "reference.safetensors", "--format", "json", "--quiet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    insta::assert_snapshot!("json", serde_json::to_string_pretty(&rounded(doc)).unwrap());
}

#[test]
fn csv_output() {
    let out = run(
        &reference_dir(),
        &["analyze", "reference.safetensors", "--format", "csv", "--normalization", "energy", "--q", "inf"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("csv", round_csv(&out.stdout));
    insta::assert_snapshot!("csv_stderr_summary", out.stderr);
}

#[test]
fn json_and_csv_are_byte_identical_whatever_the_thread_count() {
    for format in ["json", "csv"] {
        let one =
            run(&reference_dir(), &["analyze", "reference.safetensors", "-f", format, "--spectrum", "--threads", "1"]);
        let three =
            run(&reference_dir(), &["analyze", "reference.safetensors", "-f", format, "--spectrum", "--threads", "3"]);
        assert_eq!(one.code, 0);
        assert_eq!(one.stdout, three.stdout, "{format} differs between 1 and 3 threads");
    }
}

#[test]
fn spectrum_flag_writes_singular_values() {
    let out = run(
        &reference_dir(),
        &["analyze", "reference.safetensors", "-f", "json", "--spectrum", "--filter", "square_2x2"],
    );
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    // the Gram route: σ = √λ of a 2×2 Gram matrix, to rounding
    let sv: Vec<f64> =
        doc["matrices"][0]["singular_values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(sv.len() == 2 && (sv[0] - 4.0).abs() < 1e-14 && (sv[1] - 3.0).abs() < 1e-14, "{sv:?}");
    assert_eq!(doc["matrices"][0]["route"], json!("gram"));
    assert_eq!(doc["settings"]["spectrum"], json!(true));
    let direct = run(
        &reference_dir(),
        &["analyze", "reference.safetensors", "-f", "json", "--spectrum", "--method", "svd", "--filter", "square_2x2"],
    );
    let doc: Value = serde_json::from_str(&direct.stdout).unwrap();
    assert_eq!(doc["matrices"][0]["singular_values"], json!([4.0, 3.0]));
    assert_eq!(doc["matrices"][0]["route"], json!("svd"));
    let plain = run(&reference_dir(), &["analyze", "reference.safetensors", "-f", "json", "--filter", "square_2x2"]);
    assert!(!plain.stdout.contains("singular_values"));
}

#[test]
fn output_file_is_written_atomically_and_format_follows_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let src = reference_dir().join("reference.safetensors");
    let out = run(tmp.path(), &["analyze", src.to_str().unwrap(), "-o", "report.csv", "--quiet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let csv = std::fs::read_to_string(tmp.path().join("report.csv")).unwrap();
    assert!(csv.starts_with("name,file,dtype,shape,rows,cols,reshaped,gate,role,layer,normalization,q,entropy,"));
    let names: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, ["report.csv"], "no temporary file left behind");
}

#[test]
fn hf_directory_single_and_sharded() {
    let tmp = tempfile::tempdir().unwrap();
    let single = tmp.path().join("single");
    std::fs::create_dir(&single).unwrap();
    std::fs::write(
        single.join("model.safetensors"),
        safetensors(&[("model.layers.0.mlp.up_proj.weight", "F32", &[6, 4], f32s(24, 1))]),
    )
    .unwrap();
    let out = run(tmp.path(), &["analyze", "single", "-f", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["inputs"][0]["resolved_as"], "model.safetensors");
    assert_eq!(doc["matrices"][0]["role"], "mlp_up");
    assert_eq!(doc["matrices"][0]["layer"], 0);

    let sharded = tmp.path().join("sharded");
    std::fs::create_dir(&sharded).unwrap();
    std::fs::write(
        sharded.join("model-00001-of-00002.safetensors"),
        safetensors(&[
            ("model.embed_tokens.weight", "F32", &[10, 4], f32s(40, 2)),
            (
                "model.layers.0.self_attn.q_proj.weight",
                "BF16",
                &[4, 4],
                vec![
                    0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0, 0, 0x40, 0x40, 0, 0, 0, 0, 0x80, 0x40, 0x80, 0x3f, 0, 0, 0, 0,
                    0, 0, 0x80, 0x3f, 0, 0x40, 0, 0,
                ],
            ),
        ]),
    )
    .unwrap();
    std::fs::write(
        sharded.join("model-00002-of-00002.safetensors"),
        safetensors(&[
            ("lm_head.weight", "F16", &[10, 4], (0..40u16).flat_map(|i| (0x3c00u16 + i * 37).to_le_bytes()).collect()),
            ("model.norm.weight", "F32", &[4], f32s(4, 3)),
        ]),
    )
    .unwrap();
    let index = json!({"metadata": {"total_size": 0}, "weight_map": {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
        "model.layers.0.self_attn.q_proj.weight": "model-00001-of-00002.safetensors",
        "lm_head.weight": "model-00002-of-00002.safetensors",
        "model.norm.weight": "model-00002-of-00002.safetensors",
        "model.layers.0.self_attn.k_proj.weight": "model-00002-of-00002.safetensors",
    }});
    std::fs::write(sharded.join("model.safetensors.index.json"), index.to_string()).unwrap();
    let out = run(tmp.path(), &["analyze", "sharded", "-f", "table"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("sharded_table", out.stdout);

    // a shard index that points outside the model directory is refused
    let evil = json!({"weight_map": {"x": "../single/model.safetensors"}});
    std::fs::write(sharded.join("model.safetensors.index.json"), evil.to_string()).unwrap();
    let out = run(tmp.path(), &["analyze", "sharded"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("error_index_path_traversal", out.stderr);
}

#[test]
fn reshape_of_conv_kernels_is_reported() {
    let out = run(&reference_dir(), &["analyze", "reference.safetensors", "-f", "json", "--filter", "conv"]);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let m = &doc["matrices"][0];
    assert_eq!(m["shape"], json!([8, 3, 3, 3]));
    assert_eq!(m["matrix_shape"], json!([8, 27]));
    assert_eq!(m["reshaped"], json!(true));
    assert_eq!(m["role"], "conv");
    assert!(doc["settings"]["reshape"].as_str().unwrap().contains("[d0, d1*d2*...]"));
}

#[test]
fn nan_and_inf_fail_per_tensor_with_exit_code_1_and_a_complete_report() {
    let tmp = tempfile::tempdir().unwrap();
    let src = reference_dir().join("nonfinite.safetensors");
    std::fs::copy(&src, tmp.path().join("nonfinite.safetensors")).unwrap();
    let out = run(tmp.path(), &["analyze", "nonfinite.safetensors", "-o", "r.json"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("nonfinite_stderr", out.stderr);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(doc["summary"], json!({"matrices": 1, "skipped": 0, "failed": 2, "filtered_out": 0}));
    let table = run(tmp.path(), &["analyze", "nonfinite.safetensors", "-f", "table"]);
    assert_eq!(table.code, 1);
    assert!(table.stdout.contains("FAILED has_nan (nonfinite.safetensors): element [3, 7] is NaN"));
    // --quick streams the stored values instead of widening them first: the same check, the same words
    let quick = run(tmp.path(), &["analyze", "nonfinite.safetensors", "--quick", "-f", "table"]);
    assert_eq!(quick.code, 1);
    assert!(quick.stdout.contains("FAILED has_nan (nonfinite.safetensors): element [3, 7] is NaN"), "{}", quick.stdout);
}

/// Each bad input: exit code 2, one clear line naming the file and the problem, no output file.
#[test]
fn bad_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let good = safetensors(&[("w", "F32", &[3, 3], f32s(9, 5))]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.safetensors", vec![]),
        ("text.safetensors", b"this is a README, not a checkpoint\n".to_vec()),
        ("truncated.safetensors", good[..good.len() - 5].to_vec()),
        ("trailing.safetensors", [good.clone(), vec![0; 3]].concat()),
        ("header_too_long.safetensors", raw_file(b"{}", &[]).iter().enumerate().map(|(i, b)| if i == 0 { 200 } else { *b }).collect()),
        ("bad_json.safetensors", raw_file(b"{\"w\": {\"dtype\": \"F32\", ", &[])),
        ("not_utf8.safetensors", raw_file(&[0xff, 0xfe, 0x7b, 0x7d], &[])),
        (
            "overlap.safetensors",
            raw_file(
                br#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}"#,
                &[0; 24],
            ),
        ),
        (
            "out_of_range.safetensors",
            raw_file(br#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#, &[0; 8]),
        ),
        (
            "shape_mismatch.safetensors",
            raw_file(br#"{"a":{"dtype":"F32","shape":[3,3],"data_offsets":[0,16]}}"#, &[0; 16]),
        ),
        (
            "shape_overflow.safetensors",
            raw_file(br#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}}"#, &[0; 16]),
        ),
        ("model.gguf", b"GGUF\x03\x00\x00\x00rest".to_vec()),
        ("pytorch_model.bin", b"PK\x03\x04archive/data.pkl".to_vec()),
        ("legacy.pth", b"\x80\x02\x8a\x0alz".to_vec()),
        ("unknown_dtype.safetensors", raw_file(br#"{"a":{"dtype":"Q4","shape":[2,2],"data_offsets":[0,16]}}"#, &[0; 16])),
    ];
    let mut messages = String::new();
    for (name, bytes) in &cases {
        std::fs::write(d.join(name), bytes).unwrap();
        let out = run(d, &["analyze", name, "-o", "out.json"]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{name}: one line: {}", out.stderr);
        assert!(out.stderr.contains(name), "{name}: the message names the file: {}", out.stderr);
        assert!(!d.join("out.json").exists(), "{name}: no output file");
        messages.push_str(&out.stderr);
    }
    // paths and directories
    std::fs::create_dir(d.join("empty_dir")).unwrap();
    for args in [vec!["analyze", "missing.safetensors"], vec!["analyze", "empty_dir"]] {
        let out = run(d, &args);
        assert_eq!(out.code, 2, "{args:?}");
        messages.push_str(&out.stderr);
    }
    // a good file next to a bad one: the whole run stops, nothing is written
    std::fs::write(d.join("good.safetensors"), &good).unwrap();
    let out = run(d, &["analyze", "good.safetensors", "truncated.safetensors", "-o", "out.json"]);
    assert_eq!(out.code, 2);
    assert!(!d.join("out.json").exists());
    // filters
    let out = run(d, &["analyze", "good.safetensors", "--filter", "mlp"]);
    assert_eq!(out.code, 2);
    messages.push_str(&out.stderr);
    let out = run(d, &["analyze", "good.safetensors", "--filter", "(unclosed"]);
    assert_eq!(out.code, 2);
    messages.push_str(&out.stderr);
    let out = run(d, &["analyze", "good.safetensors", "-o", "no/such/dir/out.json"]);
    assert_eq!(out.code, 2);
    messages.push_str(&out.stderr);
    insta::assert_snapshot!("bad_input_messages", messages);
}

#[test]
fn same_names_in_two_files_are_told_apart_by_file() {
    let tmp = tempfile::tempdir().unwrap();
    for (file, seed) in [("a.safetensors", 1), ("b.safetensors", 2)] {
        std::fs::write(tmp.path().join(file), safetensors(&[("h.0.mlp.c_fc.weight", "F32", &[5, 4], f32s(20, seed))]))
            .unwrap();
    }
    let out = run(tmp.path(), &["analyze", "a.safetensors", "b.safetensors", "-f", "table", "--columns", "entropy"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("two_files_table", out.stdout);
}

#[test]
fn inspect_lists_tensors_without_analyzing() {
    let data = reference_dir().join("..");
    let out =
        run(&data, &["inspect", "reference/reference.safetensors", "formats/nested_checkpoint.pt", "-f", "table"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("inspect_table", out.stdout);
    let list = run(&data, &["analyze", "--list", "formats/nested_checkpoint.pt", "-f", "json"]);
    let doc: Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(doc["command"], "inspect");
    assert_eq!(doc["tensors"][1]["name"], "model.gauss_f32_T");
    assert_eq!(doc["tensors"][1]["format"], "pytorch");
    assert_eq!(doc["tensors"][1]["matrix_shape"], json!([48, 64]));
}

#[test]
fn directory_with_pytorch_model_bin() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bert");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(reference_dir().join("../formats/reference_zip.pt"), dir.join("pytorch_model.bin")).unwrap();
    let out = run(tmp.path(), &["analyze", "bert", "-f", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["inputs"][0]["resolved_as"], "pytorch_model.bin");
    assert_eq!(doc["inputs"][0]["files"][0]["format"], "pytorch");
    assert_eq!(doc["summary"]["matrices"], 10);
}

/// `--split-gates`: each gate of an LSTM's stacked weights is analyzed as its block of rows, and
/// gives exactly what that block gives when stored on its own.
#[test]
fn split_gates_analyze_each_block_of_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let (h, input) = (4usize, 6usize);
    let ih = f32s(4 * h * input, 11);
    let hh = f32s(4 * h * h, 12);
    std::fs::write(
        tmp.path().join("lstm.safetensors"),
        safetensors(&[
            ("rnn.weight_ih_l0", "F32", &[4 * h, input], ih.clone()),
            ("rnn.weight_hh_l0", "F32", &[4 * h, h], hh),
        ]),
    )
    .unwrap();
    // gate f (rows h..2h) of weight_ih_l0, stored alone
    let f_rows = ih[h * input * 4..2 * h * input * 4].to_vec();
    std::fs::write(tmp.path().join("f.safetensors"), safetensors(&[("f", "F32", &[h, input], f_rows)])).unwrap();

    let out = run(tmp.path(), &["analyze", "lstm.safetensors", "--split-gates", "-f", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let gates: Vec<(String, Value)> = doc["matrices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), m["gate"].clone()))
        .collect();
    let ih_gates: Vec<&Value> = gates.iter().filter(|(n, _)| n == "rnn.weight_ih_l0").map(|(_, g)| g).collect();
    assert_eq!(ih_gates, [&Value::Null, &json!("i"), &json!("f"), &json!("g"), &json!("o")]);
    let f_gate = doc["matrices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "rnn.weight_ih_l0" && m["gate"] == "f")
        .unwrap();
    assert_eq!(f_gate["matrix_shape"], json!([h, input]));
    let alone: Value =
        serde_json::from_str(&run(tmp.path(), &["analyze", "f.safetensors", "-f", "json"]).stdout).unwrap();
    for field in ["entropy", "kl_uniform", "stable_rank", "nuclear_norm", "l12_norm", "condition_number"] {
        assert_eq!(f_gate[field], alone["matrices"][0][field], "{field}");
    }
    // without the flag, only the stacked matrices
    let plain: Value =
        serde_json::from_str(&run(tmp.path(), &["analyze", "lstm.safetensors", "-f", "json"]).stdout).unwrap();
    assert_eq!(plain["summary"]["matrices"], 2);
}

/// `svdiag theory` reproduces the mean-field claims of Su (2026) and says where its approximations are off.
#[test]
fn theory_exact_approximate_and_monte_carlo() {
    let out = run(&reference_dir(), &["theory", "--n", "10", "--samples", "4000", "--seed", "1", "-f", "table"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("theory_table", out.stdout);
    let out = run(&reference_dir(), &["theory", "--n", "1000", "--q", "2", "--samples", "2000", "-f", "json"]);
    let t: Value = serde_json::from_str(&out.stdout).unwrap();
    let n = 1000f64;
    // E[H] = H_n − 1; Su's mean-field value: log n − (1 − γ); q = 2: log(n/2) and 1/n
    let harmonic: f64 = (1..=1000).map(|k| 1.0 / k as f64).sum();
    assert!((t["shannon_mean_exact"].as_f64().unwrap() - (harmonic - 1.0)).abs() < 1e-12);
    assert!((t["shannon_mean_approx"].as_f64().unwrap() - (n.ln() - (1.0 - 0.577_215_664_901_532_9))).abs() < 1e-12);
    assert!((t["renyi_mean_approx"].as_f64().unwrap() - (n / 2.0).ln()).abs() < 1e-12);
    assert!((t["renyi_var_approx"].as_f64().unwrap() - 1.0 / n).abs() < 1e-15);
    let mc = &t["monte_carlo"]["shannon_mean"];
    let z = (mc["value"].as_f64().unwrap() - t["shannon_mean_exact"].as_f64().unwrap()) / mc["se"].as_f64().unwrap();
    assert!(z.abs() < 4.0, "Monte Carlo {z} s.e. from the exact mean");
    let too_many = run(&reference_dir(), &["theory", "--n", "1000000", "--samples", "100000"]);
    assert_eq!(too_many.code, 2);
    assert!(too_many.stderr.contains("random draws"), "{}", too_many.stderr);
}

#[test]
fn quick_mode_says_what_it_computed() {
    let out =
        run(&reference_dir(), &["analyze", "reference.safetensors", "--quick", "-f", "json", "--filter", "gauss_f32"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["settings"]["mode"], "quick");
    assert_eq!(
        doc["settings"]["quick_metrics"],
        json!(["frobenius_norm", "spectral_norm", "stable_rank", "l12_norm", "renyi_entropy"])
    );
    let m = &doc["matrices"][0];
    assert!(m["spectral_norm"].is_number() && m["stable_rank"].is_number());
    assert!(m["entropy"].is_null() && m["nuclear_norm"].is_null() && m["numerical_rank"].is_null());
    assert!(m["undefined"]["entropy"].as_str().unwrap().contains("--quick"));
    assert!(out.stderr.contains("--quick: computed frobenius_norm, spectral_norm, stable_rank, l12_norm"));
    let both = run(&reference_dir(), &["analyze", "reference.safetensors", "--quick", "--spectrum"]);
    assert_eq!(both.code, 2);
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&reference_dir(), &["analyze"]);
    assert_eq!(out.code, 2);
    let out = run(&reference_dir(), &["analyze", "reference.safetensors", "--q", "-1"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("Rényi order q must be ≥ 0"), "{}", out.stderr);
}

#[test]
fn repr_reports_the_representation_entropies() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/representation");
    let out = run(&dir, &["repr", "z_tall.npy", "-f", "json", "--alpha", "inf", "--top-k", "5"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["command"], "repr");
    assert_eq!((doc["samples"].as_u64(), doc["dim"].as_u64(), doc["top_k"].as_u64()), (Some(300), Some(48), Some(5)));
    for f in ["von_neumann_entropy", "matrix_renyi_entropy", "vendi_score", "rankme", "truncated_entropy"] {
        assert!(doc[f].as_f64().unwrap() > 0.0, "{f}");
    }
    // a file with several matrices needs --tensor, and says which
    let many = run(&reference_dir(), &["repr", "reference.safetensors"]);
    assert_eq!(many.code, 2);
    assert!(many.stderr.contains("choose one with --tensor"), "{}", many.stderr);
    let one = run(&reference_dir(), &["repr", "reference.safetensors", "--tensor", "gauss_f32", "-f", "json"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    let missing = run(&reference_dir(), &["repr", "reference.safetensors", "--tensor", "nope"]);
    assert!(missing.code == 2 && missing.stderr.contains("no tensor named 'nope'"), "{}", missing.stderr);
}

#[test]
fn approx_estimates_only_where_cheaper_unless_always() {
    let auto = run(&reference_dir(), &["analyze", "reference.safetensors", "-f", "json", "--approx", "--quiet"]);
    assert_eq!(auto.code, 0, "{}", auto.stderr);
    let doc: Value = serde_json::from_str(&auto.stdout).unwrap();
    assert_eq!(doc["settings"]["mode"], "approx");
    // these matrices are small: the exact route is cheaper for every one
    assert!(doc["matrices"].as_array().unwrap().iter().all(|m| m.get("approx").is_none() && m["route"].is_string()));
    let always = run(
        &reference_dir(),
        &["analyze", "reference.safetensors", "-f", "json", "--approx", "always", "--filter", "gauss_f64", "--quiet"],
    );
    assert_eq!(always.code, 0, "{}", always.stderr);
    let doc: Value = serde_json::from_str(&always.stdout).unwrap();
    let m = &doc["matrices"][0];
    let e = &m["approx"]["entropy"];
    let (lo, v, hi) = (e["low"].as_f64().unwrap(), e["value"].as_f64().unwrap(), e["high"].as_f64().unwrap());
    assert!(lo < v && v < hi && m["entropy"].as_f64() == Some(v), "{m}");
    assert_eq!(doc["settings"]["approx"]["when"], "always");
    assert!(m["alpha"].is_null() && m["undefined"]["alpha"].is_string(), "fields SLQ does not give are explained");
}

#[test]
fn base_merges_an_adapter_into_its_model_and_compares() {
    let dir = reference_dir().join("../adapters");
    let out = run(&dir, &["analyze", "lora", "--base", "lora_base", "-f", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    // the analyze document is unchanged, the comparison follows it
    let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.first(), Some(&"tool"));
    assert_eq!(keys.last(), Some(&"base"));
    let base = &doc["base"];
    assert_eq!(base["command"], "compare");
    assert_eq!(base["matrices"].as_array().unwrap().len(), 6);
    assert!(base["merge_warnings"][0].as_str().unwrap().contains("model.layers.1.mlp.down_proj.weight"));
    let table = run(&dir, &["analyze", "lora", "--base", "lora_base", "-f", "table"]);
    assert!(table.stdout.contains("merged into the base model (A: W, B: W + ΔW)"), "{}", table.stdout);
    // not an adapter: nothing to merge
    let bad = run(&dir, &["analyze", "lora_base", "--base", "lora_base"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--base: the inputs hold no LoRA update to merge"), "{}", bad.stderr);
}
