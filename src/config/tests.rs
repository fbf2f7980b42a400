use super::*;
use std::path::PathBuf;
use std::time::Duration;

const MINIMAL: &str = r#"
[[accounts]]
name = "prod"
region = "cn-north-4"
auth = { method = "token", token = "tok-123" }

[[rules]]
name = "default"
thresholds = [30, 7]
receivers = ["log"]

[receivers.log]
type = "log"
"#;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, Vec<Problem>> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_toml_with_env(text, &env)
}

#[test]
fn minimal_config_loads_with_defaults() {
    let c = load(MINIMAL, &[]).unwrap();
    assert_eq!(c.daemon.schedule, "0 0 9 * * *");
    assert_eq!(c.daemon.timeout, Duration::from_secs(30));
    assert_eq!(
        c.accounts[0].api_base(),
        "https://cloudartifacts-ext.cn-north-4.myhuaweicloud.com"
    );
}

#[test]
fn environment_overrides_nested_keys_and_accounts_by_name() {
    let c = load(
        MINIMAL,
        &[
            ("RENEWD_DAEMON__STATE_PATH", "/tmp/x.db"),
            ("RENEWD_DAEMON__CONCURRENCY", "9"),
            ("RENEWD_ACCOUNTS__PROD__AUTH__TOKEN", "0123"),
            ("RENEWD_LOG", "debug"),
        ],
    )
    .unwrap();
    assert_eq!(c.daemon.state_path, PathBuf::from("/tmp/x.db"));
    assert_eq!(c.daemon.concurrency, 9);
    match &c.accounts[0].auth {
        AuthConfig::Token { token, .. } => assert_eq!(token.as_ref().unwrap().expose(), "0123"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unknown_keys_are_errors_with_their_path() {
    let text = MINIMAL.replace(
        "thresholds = [30, 7]",
        "thresholds = [30, 7]\nthreshold = 3",
    );
    let problems = load(&text, &[]).unwrap_err();
    assert_eq!(problems[0].path, "rules[0].threshold");
    assert!(problems[0].reason.contains("threshold"), "{problems:?}");
}

/// Found by fuzzing (fuzz/corpus/config): the parse error quoted the line it was on.
#[test]
fn a_syntax_error_names_the_line_not_its_text() {
    let text = MINIMAL.replace("token = \"tok-123\"", "token = \"tok-123 }");
    let problems = load(&text, &[]).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let shown = problems[0].to_string();
    assert!(
        shown.starts_with("TOML parse error at line 5, column "),
        "{shown}"
    );
    assert!(!shown.contains("tok-123"), "{shown}");
}

#[test]
fn secret_debug_is_redacted() {
    let c = load(MINIMAL, &[]).unwrap();
    let dump = format!("{c:?}");
    assert!(!dump.contains("tok-123"), "{dump}");
    assert!(dump.contains("redacted"));
}

#[test]
fn inline_secrets_are_detected() {
    assert!(Config::has_inline_secrets(MINIMAL));
    assert!(Config::has_inline_secrets(
        "[receivers.x]\nheaders = { Authorization = \"Bearer t\" }\n"
    ));
    assert!(!Config::has_inline_secrets(
        "# password here\n[smtp]\npassword_file = \"/x\"\n"
    ));
}

#[test]
fn paths_format_array_indices() {
    let p = format_path(&["rules".into(), "0".into(), "receivers".into()]);
    assert_eq!(p, "rules[0].receivers");
}

#[test]
fn locale_and_timezone_are_checked_on_the_daemon_and_every_receiver() {
    let text = MINIMAL.replace(
        "[receivers.log]\ntype = \"log\"\n",
        "[daemon]\nlocale = \"zh-CN\"\n\n[receivers.log]\ntype = \"log\"\nlocale = \"en\"\ntimezone = \"Europe/Paris\"\n",
    );
    let c = load(&text, &[]).unwrap();
    assert_eq!(c.daemon.locale(), crate::model::Locale::ZhCn);
    assert_eq!(
        c.receivers["log"].style(),
        (Some("en"), Some("Europe/Paris"))
    );
    assert_eq!(
        load(MINIMAL, &[]).unwrap().daemon.locale(),
        crate::model::Locale::En
    );

    let bad = MINIMAL.replace(
        "[receivers.log]\ntype = \"log\"\n",
        "[daemon]\nlocale = \"fr\"\n\n[receivers.log]\ntype = \"log\"\nlocale = \"zh-cn\"\ntimezone = \"Mars/Olympus\"\n",
    );
    let problems = load(&bad, &[]).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for path in [
        "daemon.locale",
        "receivers.log.locale",
        "receivers.log.timezone",
    ] {
        assert!(paths.contains(&path), "{path} in {problems:?}");
    }
    let locale = problems
        .iter()
        .find(|p| p.path == "receivers.log.locale")
        .unwrap();
    assert!(locale.reason.contains("en, zh-CN"), "{locale:?}");
}

#[test]
fn projects_are_a_list_or_all() {
    let c = load(MINIMAL, &[]).unwrap();
    assert_eq!(c.accounts[0].projects, Projects::List(vec![]));
    let all = MINIMAL.replace(
        "region = \"cn-north-4\"",
        "region = \"cn-north-4\"\nprojects = \"all\"",
    );
    let c = load(&all, &[]).unwrap();
    assert!(c.accounts[0].projects.is_all());
    assert!(c.accounts[0].projects.listed().is_empty());
    assert_eq!(
        c.accounts[0].projectman_base().as_deref(),
        Some("https://projectman-ext.cn-north-4.myhuaweicloud.com")
    );
    // From the environment too.
    let c = load(MINIMAL, &[("RENEWD_ACCOUNTS__PROD__PROJECTS", "all")]).unwrap();
    assert!(c.accounts[0].projects.is_all());
    let some = MINIMAL.replace(
        "region = \"cn-north-4\"",
        "region = \"cn-north-4\"\nprojects = \"some\"",
    );
    let problems = load(&some, &[]).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.to_string().contains("accounts[0].projects")
                && p.to_string().contains("\"some\" is neither \"all\"")),
        "{problems:?}"
    );
    // Without a region, ProjectMan's endpoint must be given.
    let no_region = MINIMAL.replace(
        "region = \"cn-north-4\"",
        "endpoint = \"https://codearts.example.com\"\nprojects = \"all\"",
    );
    let problems = load(&no_region, &[]).unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.to_string().contains("accounts[0].projectman_endpoint")),
        "{problems:?}"
    );
    let overridden = no_region.replace(
        "projects = \"all\"",
        "projects = \"all\"\nprojectman_endpoint = \"https://pm.example.com/\"",
    );
    let c = load(&overridden, &[]).unwrap();
    assert_eq!(
        c.accounts[0].projectman_base().as_deref(),
        Some("https://pm.example.com")
    );
}

#[test]
fn the_european_region_is_served_under_its_own_domain() {
    let eu = MINIMAL
        .replace(
            "region = \"cn-north-4\"",
            "region = \"eu-west-101\"\npackages = false",
        )
        .replace(
            "\n\n[[rules]]",
            "\n\n[accounts.subscriptions]\nsite = \"eu\"\n\n[[rules]]",
        );
    let c = load(&eu, &[]).unwrap();
    let account = &c.accounts[0];
    assert_eq!(
        account.iam_base().as_deref(),
        Some("https://iam.eu-west-101.myhuaweicloud.eu")
    );
    let subscriptions = account.subscriptions.as_ref().unwrap();
    assert_eq!(subscriptions.billing_base(), "https://bss.myhuaweicloud.eu");
    assert_eq!(
        subscriptions.site.renewal_page(),
        "https://account.eu.huaweicloud.com/usercenter/#/userindex/renewalManagement"
    );
    // Paris (eu-west-0) belongs to the international site, under .com.
    let paris = eu
        .replace("eu-west-101", "eu-west-0")
        .replace("site = \"eu\"", "site = \"intl\"");
    let c = load(&paris, &[]).unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(
        c.accounts[0].iam_base().as_deref(),
        Some("https://iam.eu-west-0.myhuaweicloud.com")
    );
}
