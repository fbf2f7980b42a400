//! Config files as test cases (rathole's model): every file in tests/configs/invalid must be
//! refused by the real binary with exit 78 and the message its first line names; every file in
//! tests/configs/valid, and the documented example, must pass `renewd check`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn renewd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_renewd"));
    // The developer's own environment must not leak into the cases.
    for (key, _) in std::env::vars() {
        if key.starts_with("RENEWD_") || key == "CREDENTIALS_DIRECTORY" || key == "STATE_DIRECTORY"
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn cases(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/configs")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", root.display());
    files
}

#[test]
fn invalid_configs_are_refused_with_exit_78_and_their_message() {
    let mut failures = Vec::new();
    for file in cases("invalid") {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` first line", file.display()))
            .to_string();
        // An optional second line `# absent: TEXT` names what must not be printed (a secret).
        let absent = text
            .lines()
            .nth(1)
            .and_then(|l| l.strip_prefix("# absent: "))
            .map(str::to_string);
        // Every command refuses an invalid config, not only `check`.
        for args in [&["check"][..], &["once", "--dry-run"][..], &["status"][..]] {
            let output = renewd()
                .args(args)
                .arg("--config")
                .arg(&file)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let leaked = absent.as_deref().is_some_and(|a| stderr.contains(a));
            if output.status.code() != Some(78) || !stderr.contains(&expect) || leaked {
                failures.push(format!(
                    "{} ({}): exit {:?}, expected 78 and {expect:?} (and not {absent:?}) in:\n{stderr}",
                    file.display(),
                    args.join(" "),
                    output.status.code()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn valid_configs_pass_check() {
    for file in cases("valid") {
        let output = renewd()
            .arg("check")
            .arg("--config")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn the_documented_example_passes_check_with_its_credentials() {
    let creds = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("prod-sk", "example-secret-key-value\n"),
        ("staging-password", "example-password\n"),
        ("smtp-password", "example-smtp-password\n"),
    ] {
        std::fs::write(creds.path().join(name), value).unwrap();
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/renewd.example.toml");
    let output = renewd()
        .args(["check", "--config"])
        .arg(&example)
        .env("CREDENTIALS_DIRECTORY", creds.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    // What it understood, without the secrets it read.
    assert!(stdout.contains("prod"), "{stdout}");
    assert!(stdout.contains("next runs"), "{stdout}");
    // The example's default rule reminds daily at or below 3 days, expired ones as often.
    assert!(
        stdout.contains("reminders   every 1day at or below 3 days"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expired     reminded every 1day"),
        "{stdout}"
    );
    for secret in [
        "example-secret-key-value",
        "example-password",
        "example-smtp-password",
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} printed"
        );
    }
}

#[test]
fn config_path_comes_from_the_environment_when_no_flag_is_given() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/valid/minimal.toml");
    let output = renewd()
        .arg("check")
        .env("RENEWD_CONFIG", &file)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let missing = renewd()
        .arg("check")
        .env("RENEWD_CONFIG", "/nonexistent/renewd.toml")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/renewd.toml"));
}

#[test]
fn usage_errors_exit_2() {
    let output = renewd().arg("no-such-command").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}
