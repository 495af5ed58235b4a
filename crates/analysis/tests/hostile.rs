//! Every file of `tests/data/hostile/` gives the error listed for it in `EXPECTED.tsv`: it names the
//! file and says why; nothing panics and nothing is half-analyzed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use svdiag_analysis::{analyze, AnalysisOptions, NoProgress, Plan};

#[test]
fn each_hostile_file_gives_its_expected_error() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/hostile");
    let expected: BTreeMap<String, String> = std::fs::read_to_string(root.join("EXPECTED.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (f, e) = l.split_once('\t').expect("file<TAB>expected");
            (f.to_string(), e.to_string())
        })
        .collect();
    // the hostile pickles try to create this file; nothing may run
    let marker = std::path::Path::new("/tmp/svdiag-pwned-marker");
    let _ = std::fs::remove_file(marker);
    let mut seen = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let key = format!(
                "{}/{}",
                dir.file_name().unwrap().to_string_lossy(),
                path.file_name().unwrap().to_string_lossy()
            );
            let want = expected.get(&key).unwrap_or_else(|| panic!("{key} is not listed in EXPECTED.tsv"));
            let message = match Plan::new(std::slice::from_ref(&path), None) {
                Err(e) => e.to_string(),
                Ok(plan) => {
                    let a = analyze(&plan, &AnalysisOptions::default(), &NoProgress);
                    assert!(!a.failed.is_empty(), "{key}: accepted without any failure");
                    a.failed.iter().map(|f| format!("{}: {}", f.file, f.error)).collect::<Vec<_>>().join("; ")
                }
            };
            assert!(message.contains(&*path.to_string_lossy()), "{key}: the message names the file: {message}");
            assert!(message.contains(want.as_str()), "{key}: expected '{want}' in: {message}");
            seen += 1;
        }
    }
    assert_eq!(seen, expected.len(), "every listed file exists");
    assert!(!marker.exists(), "a hostile pickle ran code: {} was created", marker.display());
}
