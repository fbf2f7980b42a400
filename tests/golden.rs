//! Golden files: one fixed digest of five alerts (and a silence that ends within the day),
//! rendered by every built-in message format
//! (email text and HTML, and every webhook format) in every locale, compared byte for byte
//! with `tests/golden/<format>.<locale>.<ext>`; and a digest of one billing subscription, in
//! `tests/golden/<format>.subscription.<locale>.<ext>`.
//!
//! A change of wording shows up here as a diff of the files. To accept it, regenerate them and
//! review the diff:
//!
//!     RENEWD_UPDATE_GOLDEN=1 cargo test --test golden
//!
//! The digest is rendered through each receiver's `preview` (the code `send` uses), at fixed
//! instants, with no signing secret (a signature would hold the time of the attempt).

use chrono::{DateTime, Utc};
use renewd::config::Config;
use renewd::model::{
    Alert, AlertKind, Locale, PollErrorInfo, ResourceFacts, Severity, Silence, SilenceMatchers,
    SourceKind,
};
use renewd::notify::{Digest, Notifiers, PreviewFormat, SilenceEnding, Style};
use std::path::{Path, PathBuf};

const UPDATE_VAR: &str = "RENEWD_UPDATE_GOLDEN";
const PROJECT: &str = "666666af0f00445f85dec483fbc97c78";
const WEBHOOK_FORMATS: &[&str] = &[
    "json",
    "alertmanager",
    "slack",
    "teams",
    "dingtalk",
    "feishu",
    "wecom",
];

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

/// When the digest goes out: 2026-11-26 01:00 UTC, 09:00 in Asia/Shanghai.
fn sent_at() -> DateTime<Utc> {
    at("2026-11-26T01:00:00Z")
}

fn package(key: &str, n: u8, kind: AlertKind, severity: Severity, days: i64) -> Alert {
    let status = if kind == AlertKind::Expired { 5 } else { 2 };
    Alert {
        id: format!("golden-{key}"),
        kind,
        severity,
        rule: "default".into(),
        account: "prod".into(),
        project_id: Some(PROJECT.into()),
        source: Default::default(),
        package: Some(key.into()),
        resource_id: Some(format!("7590809a5c9d42ae92b49b1190e9466{n}")),
        service_type: Some("hws.resource.type.codearts.extension.storage".into()),
        package_status: Some(status),
        resource: Default::default(),
        package_status_name: Some(if status == 5 { "grace" } else { "active" }.into()),
        remain_days: Some(days),
        threshold: None,
        next_action_url: Some(format!(
            "https://console.huaweicloud.com/usercenter/#/renewal?orderId=CS2406666433{n}"
        )),
        summary: String::new(),
        raised_at: at("2026-11-26T00:58:00Z"),
        previous_status: None,
        reminder: false,
        error: None,
        receivers: vec!["golden".into()],
    }
}

/// Five alerts, one of each common situation: two packages expiring (11 and 6 days), one in
/// its grace period, one renewed, and an account whose polls keep failing.
fn five_alerts() -> Vec<Alert> {
    let mut storage = package(
        "codeartsStorageExtension",
        1,
        AlertKind::Expiring,
        Severity::Info,
        11,
    );
    storage.threshold = Some(14);
    storage.summary = "codeartsStorageExtension expires in 11 days".into();
    let mut pipeline = package(
        "codeartsPipelineExtension",
        2,
        AlertKind::Expiring,
        Severity::Warning,
        6,
    );
    pipeline.threshold = Some(7);
    pipeline.summary = "codeartsPipelineExtension expires in 6 days".into();
    let mut build = package(
        "codeartsBuildExtension",
        3,
        AlertKind::Expired,
        Severity::Critical,
        -2,
    );
    build.summary = "codeartsBuildExtension expired (grace period)".into();
    let mut traffic = package(
        "codeartsTrafficExtension",
        4,
        AlertKind::Renewed,
        Severity::Info,
        365,
    );
    traffic.summary = "codeartsTrafficExtension was renewed: 365 days left".into();
    let poll = Alert {
        id: "golden-poll".into(),
        kind: AlertKind::PollFailed,
        severity: Severity::Critical,
        rule: "default".into(),
        account: "test".into(),
        project_id: None,
        source: Default::default(),
        package: None,
        resource_id: None,
        service_type: None,
        package_status: None,
        resource: Default::default(),
        package_status_name: None,
        remain_days: None,
        threshold: None,
        next_action_url: None,
        summary: "polling test failed 3 times in a row: HTTP 401 APIG.0301 Incorrect IAM \
                  authentication information (request id 4a1f)"
            .into(),
        raised_at: at("2026-11-26T00:59:00Z"),
        previous_status: None,
        reminder: false,
        error: Some(PollErrorInfo {
            http_status: Some(401),
            error_code: Some("APIG.0301".into()),
            error_msg: "Incorrect IAM authentication information".into(),
            request_id: Some("4a1f".into()),
            consecutive_failures: 3,
        }),
        receivers: vec!["golden".into()],
    };
    vec![storage, pipeline, build, traffic, poll]
}

/// An ECS server of the billing API expiring in 6 days, as the rules raise it.
fn subscription() -> Alert {
    let mut server = package(
        "hws.resource.type.vm",
        5,
        AlertKind::Expiring,
        Severity::Warning,
        6,
    );
    server.id = "golden-subscription".into();
    server.project_id = None;
    server.source = SourceKind::Subscriptions;
    server.resource_id = Some("8d1c6a4e-6f1b-4f5e-9c1a-2b7c1f0e9a11".into());
    server.service_type = Some("hws.service.type.ec2".into());
    server.package_status_name = Some("in_use".into());
    server.resource = ResourceFacts {
        resource_name: Some("web-01".into()),
        service_type_name: Some("Elastic Cloud Server".into()),
        resource_type_name: Some("Cloud Server".into()),
        resource_spec_code: Some("c7.large.2.linux".into()),
        region: Some("cn-north-4".into()),
        expire_time: Some(at("2026-12-02T15:59:59Z")),
        auto_renew: Some(false),
    };
    server.threshold = Some(7);
    server.next_action_url =
        Some("https://account.huaweicloud.com/usercenter/#/userindex/renewalManagement".into());
    server.summary = "hws.resource.type.vm expires in 6 days".into();
    server
}

/// A silence in force that ends 9 hours after the digest (mentioned), and one that ends in
/// three days (not).
fn silences() -> Vec<Silence> {
    let silence = |id: i64, ends_at: &str, reason: &str| Silence {
        id,
        matchers: SilenceMatchers {
            account: Some("prod".into()),
            package: Some("codeartsArtifact*".into()),
            ..SilenceMatchers::default()
        },
        created_at: at("2026-11-25T08:00:00Z"),
        ends_at: at(ends_at),
        reason: reason.into(),
        created_by: "alice".into(),
        expired_at: None,
    };
    vec![
        silence(7, "2026-11-26T10:00:00Z", "PO 4711 in approval"),
        silence(8, "2026-11-29T10:00:00Z", "later"),
    ]
}

fn digest(locale: Locale) -> Digest {
    styled(five_alerts(), locale)
        .with_silences_ending(SilenceEnding::within_a_day(&silences(), sent_at()))
}

fn styled(alerts: Vec<Alert>, locale: Locale) -> Digest {
    Digest::new("golden", alerts, sent_at(), chrono_tz::UTC).styled(Style {
        locale,
        timezone: chrono_tz::Asia::Shanghai,
    })
}

/// The digests rendered, each with what its files' names have before the locale.
fn digests(locale: Locale) -> [(&'static str, Digest); 2] {
    [
        ("", digest(locale)),
        ("subscription.", styled(vec![subscription()], locale)),
    ]
}

/// One receiver per format, all named after their format.
fn notifiers() -> Notifiers {
    let mut text = String::from(
        r#"
[[accounts]]
name = "prod"
region = "cn-north-4"
auth = { method = "token", token = "tok" }

[[rules]]
name = "default"
thresholds = [14, 7]
receivers = ["email"]

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
from = "renewd <renewd@example.com>"

[receivers.email]
type = "email"
to = ["ops@example.com"]
"#,
    );
    for format in WEBHOOK_FORMATS {
        text.push_str(&format!(
            "\n[receivers.{format}]\ntype = \"webhook\"\nformat = \"{format}\"\nurl = \"https://hooks.example.com/{format}\"\n"
        ));
    }
    let config = Config::from_toml_with_env(&text, &[]).unwrap_or_else(|p| panic!("{p:?}"));
    renewd::app::install_crypto_provider();
    Notifiers::from_config(&config, reqwest::Client::new()).expect("notifiers")
}

/// Every golden file's name and what the code renders for it now.
fn rendered() -> Vec<(String, String)> {
    let notifiers = notifiers();
    let mut files = Vec::new();
    for locale in Locale::ALL {
        for (variant, digest) in digests(locale) {
            let email = notifiers
                .get("email")
                .unwrap()
                .preview(&digest)
                .expect("email preview");
            files.push((
                format!("email.{variant}{locale}.txt"),
                email.part(PreviewFormat::Text).unwrap().to_string(),
            ));
            files.push((
                format!("email.{variant}{locale}.html"),
                email.part(PreviewFormat::Html).unwrap().to_string(),
            ));
            for format in WEBHOOK_FORMATS {
                let preview = notifiers
                    .get(format)
                    .unwrap()
                    .preview(&digest)
                    .unwrap_or_else(|e| panic!("{format}: {e}"));
                let mut body = preview.part(PreviewFormat::Json).unwrap().to_string();
                body.push('\n');
                files.push((format!("{format}.{variant}{locale}.json"), body));
                if let Some(text) = preview.part(PreviewFormat::Text) {
                    files.push((
                        format!("{format}.{variant}{locale}.md"),
                        format!("{text}\n"),
                    ));
                }
            }
        }
    }
    files
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn every_format_and_locale_matches_its_golden_file() {
    let update = std::env::var_os(UPDATE_VAR).is_some();
    let dir = golden_dir();
    let mut differ = Vec::new();
    for (name, now) in rendered() {
        let path = dir.join(&name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &now).unwrap();
            continue;
        }
        let before = std::fs::read_to_string(&path).unwrap_or_default();
        if before != now {
            let line = before
                .lines()
                .zip(now.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(before.lines().count().min(now.lines().count()));
            differ.push(format!(
                "{name}: differs from line {}\n  golden:   {:?}\n  rendered: {:?}",
                line + 1,
                before.lines().nth(line).unwrap_or("<end>"),
                now.lines().nth(line).unwrap_or("<end>"),
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "rendered messages differ from tests/golden (if intended: {UPDATE_VAR}=1 cargo test \
         --test golden, then review the diff):\n{}",
        differ.join("\n")
    );
}

#[test]
fn no_stray_golden_files() {
    let expected: std::collections::BTreeSet<String> =
        rendered().into_iter().map(|(name, _)| name).collect();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            expected.contains(&name),
            "tests/golden/{name} is no longer rendered: remove it"
        );
    }
}
