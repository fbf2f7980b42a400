//! The committed fuzz corpus (`fuzz/corpus/<target>/`) replayed as ordinary tests, with the
//! same checks the fuzzer made (`fuzz/harness.rs`), so a finding fixed once stays fixed. The
//! signer's corpus is also compared with an independent Python re-implementation of the
//! official Huawei SDK signer (`fuzz/signer_reference.py`, standard library only).

#[path = "../fuzz/harness.rs"]
mod harness;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).expect("corpus file is readable");
            (path, data)
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "{}: the corpus is missing or nearly empty",
        dir.display()
    );
    files
}

/// Runs `check` on every corpus file of `target`, naming the files that fail.
fn replay(target: &str, check: fn(&[u8])) {
    let mut failed = Vec::new();
    for (path, data) in corpus(target) {
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target}: failing inputs: {failed:#?}");
}

#[test]
fn api_response_corpus() {
    replay("api_response", harness::api_response);
}

#[test]
fn config_corpus() {
    replay("config", harness::config);
}

#[test]
fn signer_corpus() {
    replay("signer", harness::signer);
}

#[test]
fn iam_token_corpus() {
    replay("iam_token", harness::iam_token);
}

#[test]
fn templates_corpus() {
    replay("templates", harness::templates);
}

/// Every signer corpus case (and every official vector) signed by renewd and by the Python
/// re-implementation of the SDK's signer gives the same canonical request and signature.
#[test]
fn signer_corpus_matches_the_python_reference() {
    let cases: Vec<serde_json::Value> = corpus("signer")
        .into_iter()
        .map(|(path, data)| {
            let case = harness::signer_case(&data);
            let rust = harness::sign_case(&case);
            serde_json::json!({
                "name": path.file_name().unwrap().to_string_lossy(),
                "case": case,
                "ak": harness::SIGNER_AK,
                "sk": harness::SIGNER_SK,
                "rust": rust,
            })
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/signer_reference.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg("compare")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (the reference signer needs only its standard library)");
    let mut stdin = child.stdin.take().expect("stdin");
    for case in &cases {
        writeln!(stdin, "{case}").expect("write a case");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("reference finishes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python reference disagrees:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The reference reports how many it compared: all of them, none skipped.
    assert!(
        stdout.contains(&format!("{} cases agree", cases.len())),
        "{stdout}"
    );
}
