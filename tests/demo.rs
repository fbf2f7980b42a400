//! `renewd demo`, the README's first command: the real binary, with nothing configured.

mod support;

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
}
