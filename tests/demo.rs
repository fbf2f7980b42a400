//! `renewd demo`, the README's first command: the real binary, with nothing configured.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn demo_runs_two_cycles_the_first_alerts_the_second_is_quiet() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_renewd"));
    command.arg("demo").env("RENEWD_LOG", "info");
    for key in support::inherited_vars_to_scrub() {
        command.env_remove(key);
    }
    // No config anywhere: the demo needs none.
    command.env("RENEWD_CONFIG", "/nonexistent/renewd.toml");
    let output = command.output().expect("run renewd demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");

    let (first, second) = stdout
        .split_once("== cycle 2 ==")
        .unwrap_or_else(|| panic!("two cycles: {stdout}"));
    assert!(first.contains("== cycle 1 =="), "{stdout}");
    let decided = |table: &str, package: &str| -> String {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(package))
            .unwrap_or_else(|| panic!("no row for {package} in {table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        format!("{} {}", cells[3], cells[cells.len() - 1])
    };
    // The documented example as it is, plus three more.
    for (package, first_cycle) in [
        ("codeartsStorageExtension", "11 expiring"),
        ("codeartsTrafficExtension", "11 expiring"),
        ("codeartsDeployExtension", "45 -"),
        ("codeartsPipelineExtension", "6 expiring"),
        ("codeartsBuildExtension", "0 expired"),
    ] {
        assert_eq!(decided(first, package), first_cycle, "{stdout}");
        let days = first_cycle.split(' ').next().unwrap();
        assert_eq!(decided(second, package), format!("{days} -"), "{stdout}");
    }
    assert!(
        first.contains("4 alert(s); deliveries: 1 delivered"),
        "{stdout}"
    );
    assert!(
        second.contains("0 alert(s); deliveries: 0 delivered"),
        "{stdout}"
    );
    assert!(second.contains("every step is told once"), "{stdout}");

    // The log receiver told each alert once, with its renewal link.
    let alerts: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("event=\"alert.log\""))
        .collect();
    assert_eq!(alerts.len(), 4, "{stderr}");
    assert!(
        alerts
            .iter()
            .all(|l| l.contains("next_action_url=\"https://")),
        "{stderr}"
    );

    // What each kind of receiver would have received, in the directory it keeps.
    let (_, previews) = second
        .split_once("What each kind of receiver would have received")
        .unwrap_or_else(|| panic!("no previews listed: {stdout}"));
    let path = |file: &str| -> PathBuf {
        let shown = previews
            .split_whitespace()
            .find(|w| w.ends_with(&format!("/{file}")))
            .unwrap_or_else(|| panic!("{file} not listed: {stdout}"));
        PathBuf::from(shown)
    };
    let dir = path("mail.html").parent().unwrap().to_path_buf();
    assert!(
        previews.contains(&format!("The directory {} is kept", dir.display())),
        "{stdout}"
    );
    let read = |file: &str| {
        let p = path(file);
        assert_eq!(p.parent(), Some(dir.as_path()), "{stdout}");
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let html = read("mail.html");
    assert!(
        html.contains("<a href=\"https://localhost.com/usercenter/") && html.contains(">Renew</a>"),
        "{html}"
    );
    let text = read("mail.txt");
    assert!(
        text.starts_with("Subject: [renewd] 1 expired, 3 expiring"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&read("renewd.json")).expect("renewd.json is JSON");
    assert_eq!(json["source"], "renewd");
    let mut packages: Vec<&str> = json["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["package"].as_str().unwrap())
        .collect();
    // Most urgent first: the expired one, then 6 days, then the two at 11 days.
    assert_eq!(
        packages[..2],
        ["codeartsBuildExtension", "codeartsPipelineExtension"]
    );
    packages.sort_unstable();
    assert_eq!(
        packages,
        [
            "codeartsBuildExtension",
            "codeartsPipelineExtension",
            "codeartsStorageExtension",
            "codeartsTrafficExtension"
        ]
    );
    let dingtalk: Value =
        serde_json::from_str(&read("dingtalk.json")).expect("dingtalk.json is JSON");
    // An ActionCard: the digest's text with a Renew link per package, and a button each.
    assert_eq!(dingtalk["msgtype"], "actionCard");
    assert_eq!(
        dingtalk["actionCard"]["btns"].as_array().map(Vec::len),
        Some(4),
        "{dingtalk:#}"
    );
    assert!(dingtalk["actionCard"]["text"]
        .as_str()
        .unwrap()
        .contains("[Renew](https://localhost.com/usercenter/"));
    std::fs::remove_dir_all(&dir).expect("remove the demo's directory");
}
