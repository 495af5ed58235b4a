//! End-to-end tests of the run commands (`trend`, `watch`, `compare`, `delta`) and the result
//! store, on synthetic runs whose spectra are planted: each matrix is `H₁·diag(s)·H₂` with
//! Householder reflections `H₁`, `H₂` (orthogonal), so its singular values are exactly `s`.
#![allow(clippy::print_stderr)]

use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::{json, Value};

fn svdiag(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("svdiag").unwrap();
    c.current_dir(dir).env("NO_COLOR", "1").env("COLUMNS", "120").env_remove("SVDIAG_CACHE");
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

/// A safetensors file of F64 matrices.
fn safetensors(tensors: &[(String, usize, usize, Vec<f64>)], metadata: Option<Value>) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if let Some(m) = metadata {
        header.insert("__metadata__".into(), m);
    }
    let mut data = Vec::new();
    for (name, rows, cols, values) in tensors {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        header.insert(
            name.clone(),
            json!({"dtype": "F64", "shape": [rows, cols], "data_offsets": [data.len(), data.len() + bytes.len()]}),
        );
        data.extend_from_slice(&bytes);
    }
    let h = serde_json::to_vec(&Value::Object(header)).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    out
}

/// A deterministic unit-ish vector for a Householder reflection.
fn direction(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
        .collect()
}

/// `H₁·diag(s)·H₂` (rows × cols, row-major), `H = I − 2vvᵀ/vᵀv`: singular values exactly `s`.
fn planted(rows: usize, cols: usize, s: &[f64], seed: u64) -> Vec<f64> {
    let (u, v) = (direction(rows, seed), direction(cols, seed + 1));
    let (uu, vv): (f64, f64) = (u.iter().map(|x| x * x).sum(), v.iter().map(|x| x * x).sum());
    let mut d = vec![0.0; rows * cols];
    for (i, si) in s.iter().enumerate() {
        d[i * cols + i] = *si;
    }
    // D·H₂: each row r ← r − 2 (r·v / vᵀv) vᵀ
    for r in 0..rows {
        let row = &mut d[r * cols..(r + 1) * cols];
        let dot: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum();
        for (a, b) in row.iter_mut().zip(&v) {
            *a -= 2.0 * dot / vv * b;
        }
    }
    // H₁·(D·H₂): each column c ← c − 2 (uᵀc / uᵀu) u
    for c in 0..cols {
        let dot: f64 = (0..rows).map(|r| u[r] * d[r * cols + c]).sum();
        for r in 0..rows {
            d[r * cols + c] -= 2.0 * dot / uu * u[r];
        }
    }
    d
}

/// Singular values decaying as `exp(−decay·i)`.
fn decaying(n: usize, decay: f64) -> Vec<f64> {
    (0..n).map(|i| (-decay * i as f64).exp()).collect()
}

/// kl_uniform of a spectrum (sigma normalization), computed here independently.
fn kl_uniform(s: &[f64]) -> f64 {
    let total: f64 = s.iter().sum();
    let h: f64 = s.iter().map(|x| x / total).filter(|p| *p > 0.0).map(|p| -p * p.ln()).sum();
    (s.len() as f64).ln() - h
}

const N: usize = 40;
const LAYERS: usize = 3;
const STEPS: [u64; 8] = [100, 200, 300, 400, 500, 600, 700, 800];

/// The planted spectrum of one matrix at checkpoint `k`: decay grows smoothly; with `collapse`,
/// `layers.1.mlp.up_proj` collapses at checkpoint 5 (step 600) and stays collapsed.
fn spectrum(layer: usize, which: usize, k: usize, collapse: bool) -> Vec<f64> {
    let decay = 0.02 + 0.01 * layer as f64 + 0.005 * which as f64 + 0.004 * k as f64;
    if collapse && layer == 1 && which == 1 && k >= 5 {
        return decaying(N, 0.5 + 0.01 * k as f64);
    }
    decaying(N, decay)
}

fn names(layer: usize) -> [String; 2] {
    [format!("model.layers.{layer}.self_attn.q_proj.weight"), format!("model.layers.{layer}.mlp.up_proj.weight")]
}

/// Writes `checkpoint-<step>/model.safetensors` for every step.
fn write_run(dir: &Path, collapse: bool) {
    for (k, step) in STEPS.iter().enumerate() {
        let ck = dir.join(format!("checkpoint-{step}"));
        std::fs::create_dir_all(&ck).unwrap();
        let mut tensors = Vec::new();
        for layer in 0..LAYERS {
            for (which, name) in names(layer).into_iter().enumerate() {
                let s = spectrum(layer, which, k, collapse);
                tensors.push((name, N, N, planted(N, N, &s, (layer * 2 + which) as u64 + 1)));
            }
        }
        std::fs::write(ck.join("model.safetensors"), safetensors(&tensors, None)).unwrap();
    }
}

#[test]
fn trend_reports_the_planted_trajectory_and_alerts_exactly_at_the_collapse() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    write_run(&run_dir, true);
    let store = dir.path().join("store.sqlite3");
    let o = run(dir.path(), &["trend", "run", "--format", "json", "--cache", store.to_str().unwrap()]);
    assert_eq!(o.code, 3, "alerts exit 3: {}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    let checkpoints = doc["run"]["checkpoints"].as_array().unwrap();
    let steps: Vec<u64> = checkpoints.iter().map(|c| c["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, STEPS);
    assert!(checkpoints.iter().all(|c| c["step_source"] == "name"));

    // the series: every matrix at every step, kl_uniform as planted (to 1e-9 relative)
    let series = doc["series"].as_array().unwrap();
    assert_eq!(series.len(), STEPS.len() * LAYERS * 2);
    for row in series {
        let step = row["step"].as_u64().unwrap();
        let k = STEPS.iter().position(|s| *s == step).unwrap();
        let layer = row["layer"].as_u64().unwrap() as usize;
        let which = usize::from(row["matrix"].as_str().unwrap().contains("mlp"));
        let want = kl_uniform(&spectrum(layer, which, k, true));
        let got = row["kl_uniform"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-9 * want, "{row}: {got} vs {want}");
    }

    // jump alerts: exactly one, at the planted step, on the planted matrix
    let alerts = doc["alerts"].as_array().unwrap();
    let jumps: Vec<&Value> = alerts.iter().filter(|a| a["kind"] == "jump").collect();
    assert_eq!(jumps.len(), 1, "{alerts:#?}");
    assert_eq!(jumps[0]["matrix"], "model.layers.1.mlp.up_proj.weight");
    assert_eq!((jumps[0]["from_step"].as_u64(), jumps[0]["to_step"].as_u64()), (Some(500), Some(600)));
    assert_eq!(jumps[0]["metric"], "kl_uniform");
    assert_eq!(jumps[0]["diagnosis"], "late_stage_degradation");
    assert!(jumps[0]["mitigations"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m.as_str().unwrap().starts_with("Early stopping")));
    assert!(jumps[0]["caveat"].as_str().unwrap().contains("not proof"));
    assert!(jumps[0]["score"].as_f64().unwrap() >= jumps[0]["threshold"].as_f64().unwrap());
    // a drift alert, if any, concerns the collapsed matrix only
    assert!(alerts.iter().all(|a| a["matrix"] == "model.layers.1.mlp.up_proj.weight"), "{alerts:#?}");
    // the alert is on stderr too, with the steps
    assert!(o.stderr.contains("ALERT jump at step 600"), "{}", o.stderr);

    // aggregates per role: medians at each step
    let agg = doc["aggregates"].as_array().unwrap();
    assert!(agg.iter().any(|a| a["group"] == "role" && a["key"] == "mlp_up" && a["metric"] == "kl_uniform"));
    assert!(agg.iter().any(|a| a["group"] == "depth" && a["key"] == "2"));

    // the table: one line per matrix with its trend, and the alert
    let o = run(dir.path(), &["trend", "run", "--format", "table", "--cache", store.to_str().unwrap()]);
    assert_eq!(o.code, 3);
    assert!(o.stdout.contains("ALERT jump at step 600"), "{}", o.stdout);
    assert!(o.stdout.lines().filter(|l| l.contains("model.layers.")).count() >= LAYERS * 2);

    // CSV in long form
    let o = run(dir.path(), &["trend", "run", "--format", "csv", "--cache", store.to_str().unwrap()]);
    let mut lines = o.stdout.lines();
    assert!(lines.next().unwrap().starts_with("matrix,role,layer,rows,cols,step,checkpoint,entropy,"));
    assert_eq!(lines.count(), STEPS.len() * LAYERS * 2);
}

#[test]
fn a_smooth_run_raises_no_alert() {
    let dir = tempfile::tempdir().unwrap();
    write_run(&dir.path().join("run"), false);
    let o = run(dir.path(), &["trend", "run", "--format", "json", "--no-cache"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["alerts"], json!([]));
    assert!(o.stderr.contains("alerts: none"), "{}", o.stderr);
}

/// A run of `checkpoints` × `per` distinct pseudo-random n×n matrices (slow enough to interrupt).
fn write_big_run(dir: &Path, checkpoints: usize, per: usize, n: usize) -> usize {
    for k in 0..checkpoints {
        let ck = dir.join(format!("checkpoint-{}", (k + 1) * 10));
        std::fs::create_dir_all(&ck).unwrap();
        let tensors: Vec<(String, usize, usize, Vec<f64>)> = (0..per)
            .map(|i| {
                (format!("model.layers.{i}.mlp.down_proj.weight"), n, n, direction(n * n, (k * per + i) as u64 + 7))
            })
            .collect();
        std::fs::write(ck.join("model.safetensors"), safetensors(&tensors, None)).unwrap();
    }
    checkpoints * per
}

fn stored(store: &Path) -> usize {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("SELECT count(*) FROM spectra", [], |r| r.get::<_, i64>(0)).unwrap_or(0) as usize
}

/// `(computed, reused)` from the closing line on stderr.
fn spectra_counts(stderr: &str) -> (usize, usize) {
    let line = stderr.lines().find(|l| l.starts_with("spectra: ")).unwrap_or_else(|| panic!("{stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[1].parse().unwrap_or_else(|_| panic!("{stderr}")), words[3].parse().unwrap_or_else(|_| panic!("{stderr}")))
}

#[test]
fn an_interrupted_trend_resumes_computing_each_tensor_once_and_gives_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let total = write_big_run(&dir.path().join("run"), 8, 6, 300);
    let store = dir.path().join("store.sqlite3");
    let store_arg = store.to_str().unwrap();
    let reference = run(dir.path(), &["trend", "run", "--format", "json", "--no-cache", "--no-alerts", "-q"]);
    assert_eq!(reference.code, 0, "{}", reference.stderr);

    // start, and kill (SIGKILL: no chance to clean up) once some spectra are stored
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("svdiag"))
        .current_dir(dir.path())
        .args(["trend", "run", "--format", "json", "--no-alerts", "-q", "--threads", "1", "--cache", store_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !store.exists() || stored(&store) < 5 {
        assert!(child.try_wait().unwrap().is_none(), "finished before it could be interrupted");
        assert!(start.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let after_kill = stored(&store);
    assert!((5..total).contains(&after_kill), "interrupted with {after_kill} of {total} stored");

    // restart: it completes, computing only what was not stored
    let resumed = run(dir.path(), &["trend", "run", "--format", "json", "--no-alerts", "--cache", store_arg]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let (computed, reused) = spectra_counts(&resumed.stderr);
    assert_eq!(reused, after_kill, "{}", resumed.stderr);
    assert_eq!(computed + reused, total);
    assert_eq!(stored(&store), total);
    assert_eq!(resumed.stdout, reference.stdout, "same output as an uninterrupted run");

    // and once more: everything from the store
    let again = run(dir.path(), &["trend", "run", "--format", "json", "--no-alerts", "--cache", store_arg]);
    assert_eq!(spectra_counts(&again.stderr), (0, total));
    assert_eq!(again.stdout, reference.stdout);
}

#[test]
fn two_processes_share_one_store_without_corrupting_it() {
    let dir = tempfile::tempdir().unwrap();
    let total = write_big_run(&dir.path().join("run"), 4, 6, 200);
    let store = dir.path().join("shared.sqlite3");
    let args =
        ["trend", "run", "--format", "json", "--no-alerts", "--threads", "1", "--cache", store.to_str().unwrap()];
    let spawn = || {
        StdCommand::new(assert_cmd::cargo::cargo_bin("svdiag"))
            .current_dir(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(a.stdout, b.stdout);
    let counts = |o: &std::process::Output| spectra_counts(&String::from_utf8_lossy(&o.stderr));
    let ((ca, ra), (cb, rb)) = (counts(&a), counts(&b));
    assert_eq!((ca + ra, cb + rb), (total, total));
    assert_eq!(stored(&store), total);
    let conn = rusqlite::Connection::open(&store).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn a_store_of_another_schema_or_another_program_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    write_run(&dir.path().join("run"), false);
    // a store written by a future version (same application id, schema 99)
    let future = dir.path().join("future.sqlite3");
    {
        let c = rusqlite::Connection::open(&future).unwrap();
        c.execute_batch(
            "PRAGMA application_id = 1937138791; PRAGMA user_version = 99; CREATE TABLE spectra (key TEXT);",
        )
        .unwrap();
    }
    let o = run(dir.path(), &["trend", "run", "--format", "json", "--cache", future.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("written with store schema 99") && o.stderr.contains("not used"), "{}", o.stderr);
    assert!(o.stderr.contains("computed (no result store)"), "{}", o.stderr);
    let c = rusqlite::Connection::open(&future).unwrap();
    assert_eq!(c.query_row("PRAGMA user_version", [], |r| r.get::<_, i32>(0)).unwrap(), 99, "left as it was");

    // not a database at all
    let junk = dir.path().join("junk.sqlite3");
    std::fs::write(&junk, b"this is not a database, just some bytes that are long enough to have a header....")
        .unwrap();
    let o = run(dir.path(), &["trend", "run", "--format", "json", "--cache", junk.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("not an SQLite database"), "{}", o.stderr);

    // another program's database
    let other = dir.path().join("other.sqlite3");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
    let o = run(dir.path(), &["trend", "run", "--format", "json", "--cache", other.to_str().unwrap()]);
    assert!(o.stderr.contains("not an svdiag result store"), "{}", o.stderr);
}

/// Writes one checkpoint of `LAYERS × 2` planted matrices with the given decays, plus `extra`.
fn write_checkpoint(path: &Path, decay: impl Fn(usize, usize) -> f64, extra: Option<&str>) {
    let mut tensors = Vec::new();
    for layer in 0..LAYERS {
        for (which, name) in names(layer).into_iter().enumerate() {
            let s = decaying(N, decay(layer, which));
            tensors.push((name, N, N, planted(N, N, &s, (layer * 2 + which) as u64 + 1)));
        }
    }
    if let Some(name) = extra {
        tensors.push((name.to_string(), N, N, planted(N, N, &decaying(N, 0.1), 99)));
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, safetensors(&tensors, None)).unwrap();
}

#[test]
fn compare_says_which_run_is_flatter_with_its_evidence() {
    let dir = tempfile::tempdir().unwrap();
    // two runs of 3 checkpoints; B's matrices decay half as fast (flatter spectra)
    for (run, factor) in [("adamw", 1.0), ("muon", 0.5)] {
        for (k, step) in [100, 200, 300].iter().enumerate() {
            let extra = (run == "muon").then_some("lm_head.weight");
            write_checkpoint(
                &dir.path().join(run).join(format!("step_{step}.safetensors")),
                |l, w| factor * (0.05 + 0.01 * (l + w + k) as f64),
                extra,
            );
        }
    }
    let store = dir.path().join("s.sqlite3");
    let o = run(dir.path(), &["compare", "adamw", "muon", "--format", "json", "--cache", store.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["a"]["step"], 300, "the last checkpoint of each run");
    assert_eq!(doc["only_in_b"], json!(["lm_head.weight"]));
    // B − A of kl_uniform at step 300, from the planted decays
    let planted_diff = |layer: usize, which: usize| {
        let d = 0.05 + 0.01 * (layer + which + 2) as f64;
        kl_uniform(&decaying(N, 0.5 * d)) - kl_uniform(&decaying(N, d))
    };
    let mut diffs: Vec<f64> = (0..LAYERS).flat_map(|l| [planted_diff(l, 0), planted_diff(l, 1)]).collect();
    diffs.sort_by(f64::total_cmp);
    let median = 0.5 * (diffs[2] + diffs[3]);
    let v = &doc["verdicts"][0];
    assert_eq!(v["metric"], "kl_uniform");
    // 6 of 6 lower: two-sided sign test p = 2/2⁶
    assert_eq!(
        v["text"].as_str().unwrap(),
        format!("B's matrices are flatter (closer to uniform): lower kl_uniform in 6 of 6 block matrices, median {median:+.3}, sign test p = 0.03")
    );
    assert!((v["evidence"]["sign_test_p"].as_f64().unwrap() - 2.0 / 64.0).abs() < 1e-15);
    // the per-matrix differences are the planted ones
    for m in doc["matrices"].as_array().unwrap() {
        let layer = m["layer"].as_u64().unwrap() as usize;
        let which = usize::from(m["matrix"].as_str().unwrap().contains("mlp"));
        let want = planted_diff(layer, which);
        let got = m["diff"]["kl_uniform"].as_f64().unwrap();
        assert!((got - want).abs() < 1e-9 * want.abs(), "{got} vs {want}");
    }
    // --step picks the same step in both runs; the table names both sides and the verdicts
    let o = run(dir.path(), &["compare", "adamw", "muon", "--step", "200", "--format", "table", "--no-cache"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("A: adamw/step_200.safetensors (run adamw: the checkpoint at --step, step 200, of 3)"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("B's matrices are flatter"), "{}", o.stdout);
    assert!(o.stdout.contains("only in B, not compared: lm_head.weight"), "{}", o.stdout);
    let o = run(dir.path(), &["compare", "adamw", "muon", "--step", "250", "--no-cache"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no checkpoint at step 250 (steps: 100, 200, 300)"), "{}", o.stderr);
}

#[test]
fn delta_gives_the_spectrum_of_the_update() {
    let dir = tempfile::tempdir().unwrap();
    // B = A + Δ with Δ of a planted spectrum: the delta's metrics are Δ's
    let a: Vec<f64> = planted(N, N, &decaying(N, 0.05), 1);
    let s_delta = decaying(N, 0.3);
    let delta = planted(N, N, &s_delta, 5);
    let b: Vec<f64> = a.iter().zip(&delta).map(|(x, y)| x + y).collect();
    let name = "model.layers.0.mlp.up_proj.weight".to_string();
    std::fs::write(dir.path().join("a.safetensors"), safetensors(&[(name.clone(), N, N, a.clone())], None)).unwrap();
    std::fs::write(
        dir.path().join("b.safetensors"),
        safetensors(&[(name, N, N, b), ("model.layers.0.mlp.down_proj.weight".into(), N, 8, vec![0.5; N * 8])], None),
    )
    .unwrap();
    let o = run(dir.path(), &["delta", "a.safetensors", "b.safetensors", "--format", "json", "--no-cache"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["command"], "delta");
    let m = &doc["matrices"][0];
    let want = kl_uniform(&s_delta);
    assert!((m["kl_uniform"].as_f64().unwrap() - want).abs() < 1e-9 * want, "{m}");
    assert!((m["spectral_norm"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    assert!(doc["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("only in B")), "{doc}");
}

#[test]
fn watch_reads_each_checkpoint_once_it_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    let child = StdCommand::new(assert_cmd::cargo::cargo_bin("svdiag"))
        .current_dir(dir.path())
        .args(["watch", "run", "--interval", "0.05", "--settle", "0.6", "--stop-after", "3", "--idle-timeout", "60"])
        .args(["--no-cache", "--no-alerts"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let full = |k: usize| {
        let mut tensors = Vec::new();
        for (which, name) in names(0).into_iter().enumerate() {
            tensors.push((name, N, N, planted(N, N, &spectrum(0, which, k, false), which as u64 + 1)));
        }
        safetensors(&tensors, None)
    };
    for (k, step) in [100u64, 200, 300].iter().enumerate() {
        let ck = run_dir.join(format!("checkpoint-{step}"));
        std::fs::create_dir_all(&ck).unwrap();
        let bytes = full(k);
        // written in three pieces with pauses shorter than --settle: never read half-written;
        // the last checkpoint's writer pauses longer than --settle once: that half-written file is
        // reported, then read again once it changes
        let path = ck.join("model.safetensors");
        let third = bytes.len() / 3;
        std::fs::write(&path, &bytes[..third]).unwrap();
        std::thread::sleep(Duration::from_millis(250));
        std::fs::write(&path, &bytes[..2 * third]).unwrap();
        std::thread::sleep(Duration::from_millis(if *step == 300 { 1500 } else { 250 }));
        std::fs::write(&path, &bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("not analyzed (yet)").count(), 1, "{stdout}");
    assert!(stdout.contains("step 300: run/checkpoint-300 not analyzed (yet)"), "{stdout}");
    for step in [100, 200, 300] {
        assert_eq!(stdout.matches(&format!("step {step}: run/checkpoint-{step} — 2 analyzed")).count(), 1, "{stdout}");
    }
    assert_eq!(stdout.matches("2 analyzed").count(), 3, "{stdout}");
}

#[test]
fn a_broken_checkpoint_is_named_and_the_run_goes_on_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    write_run(&dir.path().join("run"), false);
    let victim = dir.path().join("run/checkpoint-300/model.safetensors");
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(dir.path(), &["trend", "run", "--format", "json", "--no-cache"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("checkpoint run/checkpoint-300 (step 300) not analyzed"), "{}", o.stderr);
    let doc: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(doc["run"]["checkpoints"].as_array().unwrap().len(), STEPS.len() - 1);
    assert!(doc["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("checkpoint-300")));
    // nothing analyzable at all: exit 2
    let o = run(dir.path(), &["trend", "run", "--filter", "no-such-tensor", "--no-cache"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    let o = run(dir.path(), &["trend", "missing-dir"]);
    assert_eq!(
        (o.code, o.stderr.trim()),
        (2, "error: cannot read missing-dir: No such file or directory (os error 2)")
    );
}

/// Every key of the JSON documents (`analyze` with every optional field, `trend` with alerts,
/// `compare`, `inspect`, `theory`) is named in `docs/metrics.md`, in backquotes: the docs cannot fall
/// behind a field the program writes.
#[test]
fn every_json_field_is_documented_in_docs_metrics() {
    fn keys(v: &Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| {
                out.insert(k.clone());
                keys(v, out);
            }),
            Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/metrics.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_run(&dir.path().join("run"), true);
    let last = format!("run/checkpoint-{}", STEPS[STEPS.len() - 1]);
    let commands: Vec<Vec<&str>> = vec![
        vec!["trend", "run", "--no-cache"],
        vec!["compare", "run/checkpoint-100", &last, "--no-cache"],
        vec!["analyze", &last, "--farms", "--polar", "--spectrum", "--plot-data"],
        vec!["analyze", &last, "--approx", "always"],
        vec!["analyze", &last, "--quick"],
        vec!["delta", "run/checkpoint-100", &last, "--no-cache"],
        vec!["inspect", &last],
        vec!["theory", "--n", "10"],
    ];
    let mut all = std::collections::BTreeSet::new();
    for args in &commands {
        let o = run(dir.path(), &[args.as_slice(), &["--format", "json"]].concat());
        assert!(o.code == 0 || o.code == 3, "{args:?}: {}", o.stderr);
        let doc: Value = serde_json::from_str(&o.stdout).unwrap();
        keys(&doc, &mut all);
    }
    let trend: Value =
        serde_json::from_str(&run(dir.path(), &["trend", "run", "--no-cache", "-f", "json"]).stdout).unwrap();
    assert!(
        !trend["alerts"].as_array().unwrap().is_empty(),
        "the planted collapse raises alerts, so their fields are checked"
    );
    let missing: Vec<&String> = all.iter().filter(|k| !docs.contains(&format!("`{k}`"))).collect();
    assert!(missing.is_empty(), "JSON fields not named in docs/metrics.md: {missing:?}");
    assert!(all.len() > 150, "the documents were read ({} keys)", all.len());
}

/// The four commands' pages: one self-contained file each (a policy that forbids requests, no
/// outside URL), byte-identical for any thread count, checkpoint strings escaped; `report`
/// redraws a saved document; the commands without a page refuse `html`.
#[test]
fn html_reports_are_self_contained_deterministic_and_escape_what_a_file_says() {
    let dir = tempfile::tempdir().unwrap();
    write_run(&dir.path().join("run"), true);
    let hostile = "model.layers.0.<script>alert(1)</script>\"><img src=x onerror=alert(2)>.weight";
    let s = decaying(N, 0.05);
    let tensors = vec![
        (hostile.to_string(), N, N, planted(N, N, &s, 9)),
        ("model.layers.1.mlp.up_proj.weight".to_string(), N, N, planted(N, N, &s, 10)),
    ];
    std::fs::write(dir.path().join("hostile.safetensors"), safetensors(&tensors, None)).unwrap();
    let last = format!("run/checkpoint-{}", STEPS[STEPS.len() - 1]);
    let pages: Vec<(&str, Vec<&str>)> = vec![
        ("analyze", vec!["analyze", "hostile.safetensors"]),
        ("trend", vec!["trend", "run", "--no-cache"]),
        ("compare", vec!["compare", "run/checkpoint-100", &last, "--no-cache"]),
        ("delta", vec!["delta", "run/checkpoint-100", &last, "--no-cache"]),
    ];
    for (kind, args) in &pages {
        let one = run(dir.path(), &[args.as_slice(), &["-o", "one.html", "--threads", "1"]].concat());
        assert!(one.code == 0 || one.code == 3, "{kind}: {}", one.stderr);
        let two = run(dir.path(), &[args.as_slice(), &["--format", "html", "--threads", "2"]].concat());
        let page = std::fs::read_to_string(dir.path().join("one.html")).unwrap();
        assert_eq!(page, two.stdout, "{kind}: the page depends on the thread count");
        assert!(page.starts_with("<!DOCTYPE html>"), "{kind}");
        assert!(page.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-"
        ));
        for outside in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "url(", "@import"] {
            assert!(!page.contains(outside), "{kind}: {outside}");
        }
        assert_eq!(page.matches("<script").count(), 2, "{kind}: the data and the one script");
        // redrawn from the saved JSON: the same bytes
        let json: &[&str] = if matches!(*kind, "analyze" | "delta") {
            &["--format", "json", "--plot-data"]
        } else {
            &["--format", "json"]
        };
        let saved = run(dir.path(), &[args.as_slice(), json].concat());
        std::fs::write(dir.path().join("saved.json"), &saved.stdout).unwrap();
        let redrawn = run(dir.path(), &["report", "saved.json"]);
        assert_eq!(redrawn.code, 0, "{}", redrawn.stderr);
        assert_eq!(redrawn.stdout, page, "{kind}: report redraws the same page");
    }
    // the hostile name: never as markup, only escaped (and as \u003c in the embedded JSON)
    let analyze = run(dir.path(), &["analyze", "hostile.safetensors", "-f", "html"]).stdout;
    assert!(!analyze.contains("<script>alert") && !analyze.contains("<img"), "markup from a tensor name");
    assert!(analyze.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(analyze.contains("\\u003cscript\\u003ealert(1)"));

    // what has no page says so
    let o = run(dir.path(), &["inspect", "hostile.safetensors", "-f", "html"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("inspect writes table or json, not html"), "{}", o.stderr);
    std::fs::write(
        dir.path().join("inspect.json"),
        run(dir.path(), &["inspect", "hostile.safetensors", "-f", "json"]).stdout,
    )
    .unwrap();
    for (file, message) in [("inspect.json", "not of 'inspect'"), ("missing.json", "cannot read missing.json")] {
        let o = run(dir.path(), &["report", file, "-o", "never.html"]);
        assert_eq!(o.code, 2, "{file}");
        assert!(o.stderr.contains(message), "{file}: {}", o.stderr);
        assert!(!dir.path().join("never.html").exists(), "no partial output");
    }
}
