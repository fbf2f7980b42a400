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
    // The billing resources of the same account: by name, with their resource type; the
    // auto-renewing RDS says nothing of its own (auto_renew = "quiet"), the account's funds do.
    let subscription = |table: &str, name: &str| -> String {
        let row = table
            .lines()
            .find(|l| l.contains(&format!(" {name} (hws.resource.type.")))
            .unwrap_or_else(|| panic!("no row for {name} in {table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        format!("{} {}", cells[4], cells[cells.len() - 1])
    };
    for (name, first_cycle) in [
        ("web-01", "6 expiring"),
        ("shop.example.com", "13 expiring"),
        ("db-main", "4 -"),
    ] {
        assert_eq!(subscription(first, name), first_cycle, "{stdout}");
        let days = first_cycle.split(' ').next().unwrap();
        assert_eq!(subscription(second, name), format!("{days} -"), "{stdout}");
    }
    // The attached disk is counted into its server, the bandwidth is outside the window.
    assert!(
        !first.contains("web-01-sys") && !first.contains("bandwidth-web"),
        "{stdout}"
    );
    assert!(
        first.contains(
            "auto-renewal at risk in demo: the balance of 128.45 CNY does not cover the 532.00 CNY"
        ),
        "{stdout}"
    );
    assert!(!second.contains("auto-renewal at risk"), "{stdout}");
    assert!(
        first.contains("7 alert(s); deliveries: 1 delivered"),
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
    assert_eq!(alerts.len(), 7, "{stderr}");
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
        text.starts_with(
            "Subject: [renewd] 1 expired, 5 expiring CodeArts packages and subscriptions; \
             auto-renewals at risk in 1 account (demo)"
        ),
        "{text}"
    );
    // A subscription by its service, name, spec and region, with its exact expiry date.
    assert!(
        text.contains("] ECS `web-01` (c7.large.2.linux, cn-north-4) expires in 6 days"),
        "{text}"
    );
    assert!(
        text.contains("Expiry dates of subscriptions are the billing API's own"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&read("renewd.json")).expect("renewd.json is JSON");
    assert_eq!(json["source"], "renewd");
    let alerts = json["alerts"].as_array().expect("alerts");
    let named = |a: &Value| {
        a["resource_name"]
            .as_str()
            .or(a["package"].as_str())
            .unwrap_or(a["kind"].as_str().unwrap())
            .to_string()
    };
    // Most urgent first: the expired one, then the funds at risk (4 days).
    assert_eq!(
        alerts[..2].iter().map(named).collect::<Vec<_>>(),
        ["codeartsBuildExtension", "auto_renew_at_risk"]
    );
    let mut names: Vec<String> = alerts.iter().map(named).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "auto_renew_at_risk",
            "codeartsBuildExtension",
            "codeartsPipelineExtension",
            "codeartsStorageExtension",
            "codeartsTrafficExtension",
            "shop.example.com",
            "web-01"
        ]
    );
    let web = alerts
        .iter()
        .find(|a| a["resource_name"] == "web-01")
        .unwrap();
    assert_eq!(web["source"], "subscriptions", "{web:#}");
    assert_eq!(web["region"], "cn-north-4", "{web:#}");
    let dingtalk: Value =
        serde_json::from_str(&read("dingtalk.json")).expect("dingtalk.json is JSON");
    // An ActionCard: the digest's text with a Renew link per package, and a button each.
    assert_eq!(dingtalk["msgtype"], "actionCard");
    assert_eq!(
        dingtalk["actionCard"]["btns"].as_array().map(Vec::len),
        Some(6),
        "{dingtalk:#}"
    );
    assert!(dingtalk["actionCard"]["text"]
        .as_str()
        .unwrap()
        .contains("[Renew](https://localhost.com/usercenter/"));
    std::fs::remove_dir_all(&dir).expect("remove the demo's directory");
}
