//! The documented example package, and the digests built from it: the message `test-notify`
//! sends, and what `preview` shows when the state holds nothing for a receiver.

use super::*;

/// The documented example package, used by the test message and the preview's example.
const EXAMPLE_PROJECT: &str = "666666af0f00445f85dec483fbc97c78";
const EXAMPLE_PACKAGE: &str = "codeartsStorageExtension";
const EXAMPLE_RESOURCE: &str = "7590809a5c9d42ae92b49b1190e94666";
const EXAMPLE_SERVICE_TYPE: &str = "hws.resource.type.codearts.extension.storage";
const EXAMPLE_REMAIN_DAYS: i64 = 11;
pub(super) const EXAMPLE_URL: &str = "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618666699-0&orderId=CS24066664337FWPY&isFrom=expense";

/// One package of the examples ([`ExamplePackage::alert`] makes an alert of it).
struct ExamplePackage {
    key: &'static str,
    resource_id: &'static str,
    service_type: &'static str,
    status: i64,
    remain_days: i64,
    url: &'static str,
}

impl ExamplePackage {
    const STORAGE: ExamplePackage = ExamplePackage {
        key: EXAMPLE_PACKAGE,
        resource_id: EXAMPLE_RESOURCE,
        service_type: EXAMPLE_SERVICE_TYPE,
        status: 2,
        remain_days: EXAMPLE_REMAIN_DAYS,
        url: EXAMPLE_URL,
    };

    fn alert(
        &self,
        receiver: &str,
        now: DateTime<Utc>,
        kind: AlertKind,
        severity: Severity,
        threshold: Option<i64>,
        summary: String,
    ) -> Alert {
        Alert {
            id: crate::model::stable_id(&["example", receiver, self.key, kind.as_str()]),
            kind,
            severity,
            rule: if kind == AlertKind::Test {
                "test"
            } else {
                "example"
            }
            .into(),
            account: "example".into(),
            project_id: Some(EXAMPLE_PROJECT.into()),
            source: Default::default(),
            package: Some(self.key.into()),
            resource_id: Some(self.resource_id.into()),
            service_type: Some(self.service_type.into()),
            package_status: Some(self.status),
            resource: Default::default(),
            package_status_name: Some(crate::model::package_status_name(Some(self.status)).into()),
            remain_days: Some(self.remain_days),
            threshold,
            next_action_url: Some(self.url.into()),
            summary,
            raised_at: now,
            previous_status: None,
            reminder: false,
            error: None,
            receivers: vec![receiver.to_string()],
        }
    }
}

/// A message of kind `test`, built from the documented example package
/// (codeartsStorageExtension, 11 days, the example nextActionUrl) — used by
/// `renewd test-notify <receiver>`.
pub fn test_digest(receiver: &str, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Digest {
    let mut alert = ExamplePackage::STORAGE.alert(
        receiver,
        now,
        AlertKind::Test,
        Severity::Info,
        None,
        format!(
            "Test message from renewd (example data): {EXAMPLE_PACKAGE} expires in {EXAMPLE_REMAIN_DAYS} days"
        ),
    );
    alert.id = crate::model::DecisionKey::Test { receiver, at: now }.id();
    Digest::new(receiver, vec![alert], now, tz)
}

/// What `renewd preview` shows when the state holds no alert for the receiver: a realistic
/// digest of the account `example` — the documented example package expiring in 11 days, one
/// package expiring in 6 days and one expired, in its grace period.
pub fn example_digest(receiver: &str, now: DateTime<Utc>, tz: chrono_tz::Tz) -> Digest {
    const PIPELINE: ExamplePackage = ExamplePackage {
        key: "codeartsPipelineExtension",
        resource_id: "5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
        service_type: "hws.resource.type.codearts.extension.pipeline",
        status: 2,
        remain_days: 6,
        url: "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618366664-0&orderId=CS24052666638LJS2&isFrom=expense",
    };
    const BUILD: ExamplePackage = ExamplePackage {
        key: "codeartsBuildExtension",
        resource_id: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        service_type: "hws.resource.type.codearts.extension.build",
        status: 5,
        remain_days: 0,
        url: "https://localhost.com/usercenter/?region=region&locale=zh-cn#/renewal?subscriptionId=01154-618366665-0&orderId=CS24052666639LJS3&isFrom=expense",
    };
    let storage = ExamplePackage::STORAGE;
    let alerts = vec![
        storage.alert(
            receiver,
            now,
            AlertKind::Expiring,
            Severity::Info,
            Some(14),
            format!("{} expires in {} days", storage.key, storage.remain_days),
        ),
        PIPELINE.alert(
            receiver,
            now,
            AlertKind::Expiring,
            Severity::Warning,
            Some(7),
            format!("{} expires in {} days", PIPELINE.key, PIPELINE.remain_days),
        ),
        BUILD.alert(
            receiver,
            now,
            AlertKind::Expired,
            Severity::Critical,
            None,
            format!("{} expired (grace period)", BUILD.key),
        ),
    ];
    Digest::new(receiver, alerts, now, tz)
}
