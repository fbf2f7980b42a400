//! State files written by earlier schemas, opened by today's store: frozen copies of a v1 and a
//! v2 file (tests/fixtures/state/README.md says how each was made) are migrated, and what they
//! recorded keeps its meaning — an alert already delivered is not sent again by a cycle that
//! sees the same packages, the delivery left pending is still pending and is delivered, and the
//! rule state carries on to the next threshold.
//!
//! Every instant is fixed, a little after the fixture's own cycle. The outbox picks what is due
//! by the real clock; both fixtures' pending deliveries fell due before they were committed
//! (v2's old outbox stamped its retry time with the clock of the day it ran), and
//! `max_delivery_age` is set far out so that their age (counted by the real clock too) never
//! abandons them.

mod support;

use chrono::{DateTime, Utc};
use renewd::app::App;
use renewd::config::Config;
use renewd::cycle::{self, CycleOptions, CycleReport};
use renewd::model::AlertKind;
use renewd::state::{OutboxCounts, StateError, StateStore, SCHEMA_VERSION};
use serde_json::{json, Value};
use std::path::Path;
use support::fake_cloud::FakeCloud;
use support::harness::*;
use support::webhook_receiver::WebhookReceiver;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/state");

/// Older than any fixture's pending delivery will ever be.
const DAEMON_EXTRA: &str = "max_delivery_age = \"36500d\"\n";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test timestamp")
        .with_timezone(&Utc)
}

/// A package as the API reports it.
fn entry(resource_id: &str, remain_days: i64, url: &str) -> Value {
    json!({
        "resourceId": resource_id,
        "serviceType": "hws.resource.type.codearts.extension.storage",
        "packageStatus": 2,
        "remainDays": remain_days,
        "nextActionUrl": url,
    })
}

fn pragma_text(path: &Path, pragma: &str) -> String {
    let conn = rusqlite::Connection::open(path).expect("raw open");
    conn.query_row(&format!("PRAGMA {pragma}"), [], |row| {
        row.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Integer(i) => i.to_string(),
        rusqlite::types::Value::Text(s) => s,
        other => format!("{other:?}"),
    })
    .expect("pragma")
}

/// A workspace whose state file is a fresh copy of `fixture`, still at `version`.
fn workspace_with(fixture: &str, version: u32) -> Workspace {
    let ws = Workspace::new();
    std::fs::copy(Path::new(FIXTURES).join(fixture), ws.state_path()).expect("copy the fixture");
    assert_eq!(
        pragma_text(&ws.state_path(), "user_version"),
        version.to_string(),
        "{fixture} is a schema v{version} file"
    );
    match StateStore::open_read_only(ws.state_path()) {
        Err(StateError::NeedsMigration { found, .. }) => assert_eq!(found, version),
        other => panic!("a v{version} file must be migrated first, got {other:?}"),
    }
    ws
}

/// Opens (and so migrates) the copy, then checks the file as SQLite sees it.
fn migrate(ws: &Workspace) {
    drop(StateStore::open(ws.state_path()).expect("open and migrate"));
    assert_eq!(
        pragma_text(&ws.state_path(), "user_version"),
        SCHEMA_VERSION.to_string()
    );
    assert_eq!(pragma_text(&ws.state_path(), "integrity_check"), "ok");
}

async fn run(ws: &Workspace, at: DateTime<Utc>) -> CycleReport {
    let config = Config::load_with_env(&ws.config_path(), &[]).expect("config");
    let app = App::build(config).expect("app");
    let mut store = StateStore::open(ws.state_path()).expect("state");
    let report = cycle::run_cycle(&app, &mut store, CycleOptions::default(), at)
        .await
        .expect("cycle");
    assert_eq!(report.failed_polls(), 0, "{:#?}", report.polls);
    report
}

fn received_ids(hook: &WebhookReceiver) -> Vec<Vec<String>> {
    hook.received()
        .iter()
        .map(|r| {
            let mut ids = alert_ids(&r.json());
            ids.sort();
            ids
        })
        .collect()
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn counts(ws: &Workspace) -> OutboxCounts {
    StateStore::open_read_only(ws.state_path())
        .expect("read-only")
        .outbox_counts()
        .expect("counts")
}

// ---------------------------------------------------------------------------------------------
// v2: one real cycle of commit 0591372 at 2024-05-01T02:00:00Z
// ---------------------------------------------------------------------------------------------

const V2_STORAGE: &str = "1e91f702eb1ec494e894c7bee0596c94";
const V2_BUILD: &str = "e7a26930bcfdfa2c34d415a7ae0f44fc";

fn v2_packages(storage_days: i64) -> Value {
    json!({
        "codeartsStorageExtension": entry("r-storage", storage_days, "https://console.example.com/renew?resource=r-storage"),
        "codeartsBuildMinutes": entry("r-build", 5, "https://console.example.com/renew?resource=r-build"),
        "codeartsPipeline": entry("r-pipeline", 200, "https://console.example.com/renew?resource=r-pipeline"),
    })
}

#[tokio::test]
async fn a_v2_file_migrates_and_keeps_its_decisions_and_its_pending_delivery() {
    let ws = workspace_with("v2.db", 2);
    migrate(&ws);

    let store = StateStore::open_read_only(ws.state_path()).expect("read-only");
    assert_eq!(
        store.outbox_counts().expect("counts"),
        OutboxCounts {
            pending: 1,
            delivered: 1,
            failed: 0,
            abandoned: 0
        }
    );
    let pending = store.pending_deliveries().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].receiver, "ops-later");
    assert_eq!(pending[0].attempts, 1);
    let pending_ids: Vec<&str> = pending[0].alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(pending_ids, vec![V2_BUILD, V2_STORAGE]);
    let mut known: Vec<(String, Option<i64>)> = store
        .recent_alerts(10)
        .expect("alerts")
        .into_iter()
        .map(|a| (a.id, a.threshold))
        .collect();
    known.sort();
    assert_eq!(
        known,
        vec![
            (V2_STORAGE.to_string(), Some(14)),
            (V2_BUILD.to_string(), Some(7))
        ]
    );
    let states = store.all_packages().expect("packages");
    assert_eq!(states.len(), 3);
    drop(store);

    let cloud = FakeCloud::start().await;
    cloud.add_token(TOKEN);
    cloud.set_packages(Some(PROJECT), v2_packages(12));
    let ops = WebhookReceiver::start();
    let later = WebhookReceiver::start();
    ws.write_config(&format!(
        "{}{}{}{}{}",
        daemon_section(&ws, DAEMON_EXTRA),
        token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], &["ops", "ops-later"]),
        webhook_receiver("ops", &ops.url()),
        webhook_receiver("ops-later", &later.url()),
    ));

    // The same packages an hour later: nothing new is decided, `ops` (delivered in v2) hears
    // nothing, `ops-later` gets the message v2 left pending.
    let same = run(&ws, t("2024-05-01T03:00:00Z")).await;
    assert!(same.alerts.is_empty(), "{:#?}", same.alerts);
    assert!(ops.received().is_empty(), "{:#?}", received_ids(&ops));
    assert_eq!(received_ids(&later), vec![sorted(&[V2_BUILD, V2_STORAGE])]);
    assert_eq!(
        counts(&ws),
        OutboxCounts {
            pending: 0,
            delivered: 2,
            failed: 0,
            abandoned: 0
        }
    );

    // The rule state from v2 carries on: the storage package reaching 6 days crosses 7, the
    // build minutes (already told at 7) stay quiet.
    cloud.set_packages(Some(PROJECT), v2_packages(6));
    let next = run(&ws, t("2024-05-07T02:00:00Z")).await;
    let raised: Vec<(AlertKind, Option<String>, Option<i64>)> = next
        .alerts
        .iter()
        .map(|a| (a.kind, a.resource_id.clone(), a.threshold))
        .collect();
    assert_eq!(
        raised,
        vec![(AlertKind::Expiring, Some("r-storage".to_string()), Some(7))]
    );
    let new_id = next.alerts[0].id.clone();
    assert!(new_id != V2_STORAGE && new_id != V2_BUILD);
    assert_eq!(received_ids(&ops), vec![vec![new_id.clone()]]);
    assert_eq!(received_ids(&later).len(), 2);
    assert_eq!(received_ids(&later)[1], vec![new_id]);
    assert_eq!(pragma_text(&ws.state_path(), "integrity_check"), "ok");
}

// ---------------------------------------------------------------------------------------------
// v1: one cycle recorded by commit 46460c9's store at 2026-11-20T01:00:00Z
// ---------------------------------------------------------------------------------------------

const V1_RESOURCE: &str = "7590809a5c9d42ae92b49b1190e94666";
const V1_URL: &str = "https://account.huaweicloud.com/renew?id=1";

fn v1_packages(remain_days: i64) -> Value {
    json!({ "codeartsStorageExtension": entry(V1_RESOURCE, remain_days, V1_URL) })
}

#[tokio::test]
async fn a_v1_file_migrates_and_keeps_its_decisions_and_its_pending_delivery() {
    let ws = workspace_with("v1.db", 1);
    migrate(&ws);

    let store = StateStore::open_read_only(ws.state_path()).expect("read-only");
    let pending = store.pending_deliveries().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].receiver, "ops-chat");
    let pending_ids: Vec<&str> = pending[0].alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(pending_ids, vec!["v1-expiring-14"]);
    assert_eq!(store.outbox_counts().expect("counts").delivered, 1);
    drop(store);

    // `ops-mail` already has both v1 alerts; only the chat receiver is configured now.
    let cloud = FakeCloud::start().await;
    cloud.add_token(TOKEN);
    cloud.set_packages(Some(PROJECT), v1_packages(11));
    let chat = WebhookReceiver::start();
    ws.write_config(&format!(
        "{}{}{}{}",
        daemon_section(&ws, DAEMON_EXTRA),
        token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], &["ops-chat"]),
        webhook_receiver("ops-chat", &chat.url()),
    ));

    let same = run(&ws, t("2026-11-20T02:00:00Z")).await;
    assert!(same.alerts.is_empty(), "{:#?}", same.alerts);
    assert_eq!(received_ids(&chat), vec![sorted(&["v1-expiring-14"])]);
    assert_eq!(
        counts(&ws),
        OutboxCounts {
            pending: 0,
            delivered: 2,
            failed: 0,
            abandoned: 0
        }
    );

    cloud.set_packages(Some(PROJECT), v1_packages(6));
    let next = run(&ws, t("2026-11-25T01:00:00Z")).await;
    let raised: Vec<(AlertKind, Option<i64>)> =
        next.alerts.iter().map(|a| (a.kind, a.threshold)).collect();
    assert_eq!(raised, vec![(AlertKind::Expiring, Some(7))]);
    assert_eq!(received_ids(&chat).len(), 2);
    assert_eq!(received_ids(&chat)[1], vec![next.alerts[0].id.clone()]);
    assert_eq!(pragma_text(&ws.state_path(), "integrity_check"), "ok");
}
