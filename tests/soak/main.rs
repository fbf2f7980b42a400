//! Fault soak (issue 10, point 5): `renewd run` over 50 projects whose data changes every
//! cycle, delivering to a flaky SMTP server and two flaky webhook receivers (random 5xx, 429
//! with Retry-After, connection resets, 20 s stalls), SIGKILLed at random moments and started
//! again, until `SOAK_CYCLES` cycles (default 40, a few minutes; 200 for the full soak) are
//! recorded. Then the faults stop, the daemon is stopped with SIGTERM and `renewd once`
//! delivers what is still pending.
//!
//! How the data stays deterministic under kills: the CodeArts stand-in serves epoch `n` while
//! the state file holds `n` recorded cycles (it reads the file on every request). A cycle polls
//! before it records, and records before the next one starts, so every request of a cycle sees
//! the same `n`, the cycle that records becomes recorded cycle `n`, and a cycle killed before
//! recording leaves `n` as it was: the cycle after the restart sees the same data again.
//!
//! The oracle (oracle.rs, the rules written again from the design) is applied to the epochs of
//! the recorded cycles, with the cycles' start times from the state file (a fact of history
//! that ids contain). Afterwards: the state file holds exactly the oracle's decisions; every
//! decision reached each of its receivers at least once, as part of its cycle's message; a
//! message reached a receiver more than once only when the run that sent it first was
//! SIGKILLed (in flight at a kill); no delivery is left pending; `PRAGMA integrity_check` is ok.
//! The figures are printed as `name value` lines (`bench/soak` collects them).

#[path = "../support/mod.rs"]
mod support;

mod gate;
mod oracle;
mod scenario;

use gate::Gate;
use oracle::{decision_id, Decision, Oracle, RuleSpec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{Connection, OpenFlags};
use scenario::Scenario;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::daemon_harness::{Daemon, BIN};
use support::fake_cloud::FakeCloud;
use support::flaky_webhook::FlakyWebhook;
use support::monotonic_ns;
use support::smtp_server::{SmtpFaults, SmtpMode, SmtpOptions, SmtpServer};

const TOKEN: &str = "MIIsoak-token-51c3";
const ACCOUNT: &str = "soak";
const PROJECTS: usize = 50;
const DEFAULT_CYCLES: usize = 40;
const DEFAULT_SEED: u64 = 20_261_126;
const FAILURE_ALERT_AFTER: u32 = 2;
/// Share of attempts each receiver refuses.
const FAULT_RATE: f64 = 0.25;
/// Longer than the daemon's 2 s timeout: a stall becomes a retry.
const STALL: Duration = Duration::from_secs(20);
/// After a kill, before the restart: lets the receivers finish what the dead process had
/// fully sent, so that a receipt is never counted for the run after it.
const SETTLE: Duration = Duration::from_millis(300);
/// Epochs generated past the target: cycles recorded after it (before the stop, and `once`).
const EXTRA_EPOCHS: usize = 10;
/// The daemon's log level: info, but not the per-package lines of every cycle.
const LOG_FILTER: &str = "info,renewd::cycle=warn";
const MAIL: &str = "mail";
const HOOK_A: &str = "hook-a";
const HOOK_B: &str = "hook-b";

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn rules() -> Vec<RuleSpec> {
    vec![
        RuleSpec {
            name: "default",
            package_prefix: None,
            thresholds: vec![30, 14, 7, 3, 1, 0],
            receivers: vec![MAIL, HOOK_A],
            notify_renewed: true,
        },
        RuleSpec {
            name: "storage",
            package_prefix: Some("codeartsStorage"),
            thresholds: vec![10, 5, 2],
            receivers: vec![HOOK_B],
            notify_renewed: false,
        },
    ]
}

/// The `[[rules]]` section of one rule.
fn rule_section(rule: &RuleSpec) -> String {
    let list = |items: Vec<String>| items.join(", ");
    format!(
        "[[rules]]\nname = \"{}\"\npackages = [{}]\nthresholds = [{}]\nreceivers = [{}]\nnotify_renewed = {}\n\n",
        rule.name,
        list(rule.package_prefix.iter().map(|p| format!("\"{p}*\"")).collect()),
        list(rule.thresholds.iter().map(i64::to_string).collect()),
        list(rule.receivers.iter().map(|r| format!("\"{r}\"")).collect()),
        rule.notify_renewed
    )
}

fn config(
    state: &Path,
    cloud: &str,
    projects: &[String],
    smtp_port: u16,
    a: &str,
    b: &str,
) -> String {
    let projects: Vec<String> = projects.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        r#"[daemon]
state_path = "{state}"
schedule = "* * * * * *"
run_on_start = true
timeout = "2s"
failure_alert_after = {FAILURE_ALERT_AFTER}
concurrency = 8

[log]
format = "json"

[[accounts]]
name = "{ACCOUNT}"
region = "cn-north-4"
endpoint = "{cloud}"
projects = [{projects}]
auth = {{ method = "token", token = "{TOKEN}" }}

{rules}[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "renewd <renewd@example.com>"
timeout = "2s"

[receivers.{MAIL}]
type = "email"
to = ["ops@example.com"]

[receivers.{HOOK_A}]
type = "webhook"
format = "json"
url = "{a}"

[receivers.{HOOK_B}]
type = "webhook"
format = "json"
url = "{b}"
"#,
        state = state.display(),
        projects = projects.join(", "),
        rules = rules().iter().map(rule_section).collect::<String>(),
    )
}

// ---------------------------------------------------------------------------------------------
// Runs of the daemon
// ---------------------------------------------------------------------------------------------

/// One process: `renewd run` (killed or stopped) or the final `renewd once`.
struct RunRecord {
    spawned_ns: u64,
    killed: bool,
    /// (receiver, alert id) the process logged as delivered.
    delivered_logged: HashSet<(String, String)>,
}

fn delivered_logged(events: &[Value]) -> HashSet<(String, String)> {
    let mut out = HashSet::new();
    for event in events.iter().filter(|e| e["event"] == "notify.delivered") {
        let receiver = event["receiver"].as_str().unwrap_or_default();
        for id in event["alert_ids"].as_str().unwrap_or_default().split(',') {
            out.insert((receiver.to_string(), id.to_string()));
        }
    }
    out
}

/// `renewd once`, bounded: (exit code, stderr).
fn run_once(config: &Path, dir: &Path) -> (i32, String) {
    let stderr_path = dir.join("once.log");
    let stderr = std::fs::File::create(&stderr_path).expect("once log");
    let mut command = Command::new(BIN);
    command
        .args(["once", "--config"])
        .arg(config)
        .env("RENEWD_LOG", LOG_FILTER)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    for name in support::inherited_vars_to_scrub() {
        if name != "RENEWD_LOG" {
            command.env_remove(name);
        }
    }
    let mut child = command.spawn().expect("start renewd once");
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for renewd once") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "renewd once did not end within 180 s:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    )
}

// ---------------------------------------------------------------------------------------------
// What the receivers got
// ---------------------------------------------------------------------------------------------

/// One message a receiver accepted.
struct Receipt {
    receiver: &'static str,
    /// Webhooks: the sorted alert ids joined by commas; mail: the Message-ID.
    identity: String,
    at_ns: u64,
    /// The alerts of a webhook body.
    alerts: Vec<Value>,
}

fn webhook_receipts(receiver: &'static str, hook: &FlakyWebhook) -> Vec<Receipt> {
    hook.accepted()
        .iter()
        .map(|accepted| {
            let body = accepted.json();
            assert_eq!(body["receiver"], receiver, "{body}");
            let alerts = body["alerts"].as_array().cloned().unwrap_or_default();
            let mut ids: Vec<String> = alerts
                .iter()
                .map(|a| a["id"].as_str().unwrap_or_default().to_string())
                .collect();
            ids.sort();
            Receipt {
                receiver,
                identity: ids.join(","),
                at_ns: accepted.at_ns,
                alerts,
            }
        })
        .collect()
}

fn mail_receipts(smtp: &SmtpServer) -> Vec<Receipt> {
    smtp.messages()
        .iter()
        .map(|mail| {
            let parsed = mail_parser::MessageParser::default()
                .parse(&mail.data)
                .expect("a parsable message");
            Receipt {
                receiver: MAIL,
                identity: parsed
                    .message_id()
                    .expect("every message has a Message-ID")
                    .to_string(),
                at_ns: mail.accepted_ns.expect("the server stamps accepted_ns"),
                alerts: Vec::new(),
            }
        })
        .collect()
}

/// The identity a receiver's message for `ids` (sorted) has.
fn expected_identity(receiver: &str, ids: &[String]) -> String {
    if receiver == MAIL {
        // renewd's Message-ID: the same for every attempt at the same digest.
        let mut parts: Vec<&str> = vec![receiver];
        parts.extend(ids.iter().map(String::as_str));
        format!("{}.renewd@example.com", decision_id(&parts))
    } else {
        ids.join(",")
    }
}

/// The fields of a received alert that the oracle predicts.
fn check_alert(alert: &Value, decision: &Decision) -> Result<(), String> {
    let mut wrong = Vec::new();
    let mut expect = |field: &str, want: Value| {
        if alert[field] != want {
            wrong.push(format!("{field}: got {}, want {want}", alert[field]));
        }
    };
    expect("kind", decision.kind.into());
    expect("severity", decision.severity.into());
    expect("rule", decision.rule.into());
    expect("account", ACCOUNT.into());
    expect("project_id", decision.project.clone().into());
    expect("package", decision.package.clone().into());
    expect("resource_id", decision.resource_id.clone().into());
    expect("package_status", decision.status.into());
    expect("remain_days", decision.remain.into());
    expect("threshold", decision.threshold.into());
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("alert {}: {}", decision.id, wrong.join("; ")))
    }
}

// ---------------------------------------------------------------------------------------------
// The soak
// ---------------------------------------------------------------------------------------------

/// The fakes the daemon talks to.
struct Fakes {
    cloud: FakeCloud,
    hook_a: FlakyWebhook,
    hook_b: FlakyWebhook,
    smtp: SmtpServer,
    // Last: the fake cloud's server runs on it.
    _runtime: tokio::runtime::Runtime,
}

impl Fakes {
    fn start(seed: u64, gate: &Arc<Gate>) -> Fakes {
        let (cloud, runtime) = FakeCloud::start_on_own_runtime();
        cloud.add_token(TOKEN);
        let responder = Arc::clone(gate);
        cloud.set_responder(Arc::new(move |project| responder.serve(project)));
        let smtp = SmtpServer::start_flaky(
            SmtpOptions {
                mode: SmtpMode::Plain,
                credentials: None,
            },
            Some(SmtpFaults {
                rate: FAULT_RATE,
                seed,
                stall: STALL,
            }),
        );
        Fakes {
            cloud,
            hook_a: FlakyWebhook::start(seed ^ 0xa, FAULT_RATE, STALL),
            hook_b: FlakyWebhook::start(seed ^ 0xb, FAULT_RATE, STALL),
            smtp,
            _runtime: runtime,
        }
    }

    /// The faults each receiver played, then none any more.
    fn stop_faults(&mut self) -> Vec<(&'static str, String)> {
        let played = vec![
            (HOOK_A, fault_list(&self.hook_a.faults())),
            (HOOK_B, fault_list(&self.hook_b.faults())),
            (MAIL, fault_list(&self.smtp.faults_played())),
        ];
        self.hook_a.set_fault_rate(0.0);
        self.hook_b.set_fault_rate(0.0);
        self.smtp.set_faults(None);
        self.smtp.restart();
        played
    }

    fn receipts(&self) -> Vec<Receipt> {
        let mut receipts = webhook_receipts(HOOK_A, &self.hook_a);
        receipts.extend(webhook_receipts(HOOK_B, &self.hook_b));
        receipts.extend(mail_receipts(&self.smtp));
        receipts
    }
}

fn write_config(dir: &Path, state: &Path, scenario: &Scenario, fakes: &Fakes) -> PathBuf {
    let path = dir.join("renewd.toml");
    let text = config(
        state,
        &fakes.cloud.url(),
        &scenario.projects,
        fakes.smtp.port(),
        &fakes.hook_a.url(),
        &fakes.hook_b.url(),
    );
    std::fs::write(&path, text).expect("write the config");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("config mode");
    path
}

/// `renewd run`, SIGKILLed after a random lifetime and started again, until `target` cycles
/// are recorded. Returns the killed runs and the daemon still running.
fn run_with_kills(
    config: &Path,
    gate: &Gate,
    target: usize,
    seed: u64,
    deadline: Instant,
) -> (Vec<RunRecord>, Daemon, u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6b696c6c);
    let mut runs: Vec<RunRecord> = Vec::new();
    loop {
        let spawned_ns = monotonic_ns();
        let mut daemon = Daemon::spawn(config, None, &[("RENEWD_LOG", LOG_FILTER)]);
        let lifetime = Duration::from_millis(rng.random_range(500..8000));
        let born = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            // Read errors (a busy file) just mean "look again".
            let _ = gate.observe(None);
            let recorded = gate.min_recorded();
            if recorded >= target {
                return (runs, daemon, spawned_ns);
            }
            if !daemon.is_running() {
                let lines = daemon.log_lines();
                let tail = &lines[lines.len().saturating_sub(40)..];
                panic!(
                    "renewd run died on its own after {recorded} recorded cycles:\n{}",
                    tail.join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "the soak did not reach {target} cycles in time: {recorded} recorded after {} kills",
                runs.len()
            );
            if born.elapsed() >= lifetime {
                break;
            }
        }
        daemon.signal("KILL");
        daemon.wait_exit(Duration::from_secs(30));
        if std::env::var_os("SOAK_TRACE").is_some() {
            let _ = writeln!(
                std::io::stderr(),
                "soak: kill {} after {:?}, {} epochs recorded",
                runs.len() + 1,
                born.elapsed(),
                gate.min_recorded()
            );
        }
        runs.push(RunRecord {
            spawned_ns,
            killed: true,
            delivered_logged: delivered_logged(&daemon.events("notify.delivered")),
        });
        std::thread::sleep(SETTLE);
    }
}

/// A clean stop (SIGTERM) of the last `run`, then `renewd once` for what is still pending.
fn stop_and_drain(
    config: &Path,
    dir: &Path,
    mut daemon: Daemon,
    spawned_ns: u64,
) -> Vec<RunRecord> {
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "renewd run after SIGTERM: {status:?}");
    let last_run = RunRecord {
        spawned_ns,
        killed: false,
        delivered_logged: delivered_logged(&daemon.events("notify.delivered")),
    };
    std::thread::sleep(SETTLE);
    let once_spawned = monotonic_ns();
    let (code, once_log) = run_once(config, dir);
    assert_eq!(code, 0, "renewd once after the soak:\n{once_log}");
    let once_events: Vec<Value> = once_log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    std::thread::sleep(SETTLE);
    vec![
        last_run,
        RunRecord {
            spawned_ns: once_spawned,
            killed: false,
            delivered_logged: delivered_logged(&once_events),
        },
    ]
}

fn query<T: rusqlite::types::FromSql>(db: &Connection, sql: &str) -> Vec<T> {
    db.prepare(sql)
        .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The state file holds exactly the oracle's decisions, each from its cycle and for its
/// receivers; every delivery was delivered; no decision was queued twice for one receiver.
fn check_state(db: &Connection, oracle: &Oracle, cycle_index: &HashMap<i64, usize>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stmt = db
        .prepare("SELECT id, kind, cycle_id, receivers_json FROM decisions ORDER BY seq")
        .expect("query decisions");
    let recorded: Vec<(String, String, Option<i64>, String)> = stmt
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .and_then(|rows| rows.collect())
        .expect("read decisions");
    for (id, kind, cycle_id, receivers) in &recorded {
        let Some(d) = oracle.decision(id) else {
            problems.push(format!(
                "recorded decision {id} ({kind}) is not the oracle's"
            ));
            continue;
        };
        let receivers: Vec<String> = serde_json::from_str(receivers).expect("receivers_json");
        let cycle = cycle_id.and_then(|c| cycle_index.get(&c).copied());
        if d.kind != kind || receivers != d.receivers || cycle != Some(d.cycle) {
            problems.push(format!(
                "decision {id}: recorded {kind} for {receivers:?} in cycle {cycle:?}; the oracle says {d:?}"
            ));
        }
    }
    let recorded_ids: HashSet<&str> = recorded.iter().map(|r| r.0.as_str()).collect();
    for d in &oracle.decisions {
        if !recorded_ids.contains(d.id.as_str()) {
            problems.push(format!("decision missing from the state file: {d:?}"));
        }
    }
    let undelivered: Vec<String> = query(
        db,
        "SELECT receiver || ' ' || status FROM deliveries WHERE status <> 'delivered'",
    );
    if !undelivered.is_empty() {
        problems.push(format!("deliveries not delivered: {undelivered:?}"));
    }
    let queued_twice: Vec<String> = query(
        db,
        "SELECT d.receiver || ' ' || a.alert_id FROM delivery_alerts a
             JOIN deliveries d ON d.id = a.delivery_id
         GROUP BY d.receiver, a.alert_id HAVING count(*) > 1",
    );
    if !queued_twice.is_empty() {
        problems.push(format!(
            "decisions queued twice for one receiver: {queued_twice:?}"
        ));
    }
    problems
}

/// Receipts of one message by one receiver: when, and in which run.
type ReceiptTimes = Vec<(u64, Option<usize>)>;

/// What the receivers got, against the oracle's messages.
struct Delivered {
    problems: Vec<String>,
    received: usize,
    duplicates: usize,
    /// Duplicates whose first receipt the killed run had already logged as delivered (it died
    /// before recording that).
    logged_then_killed: usize,
}

fn check_receipts(receipts: &[Receipt], oracle: &Oracle, runs: &[RunRecord]) -> Delivered {
    let mut problems = Vec::new();
    let expected: HashMap<(&str, String), &oracle::Message> = oracle
        .messages
        .iter()
        .map(|m| ((m.receiver, expected_identity(m.receiver, &m.ids)), m))
        .collect();
    let run_of = |at_ns: u64| runs.iter().rposition(|r| r.spawned_ns <= at_ns);
    let mut by_message: HashMap<(&str, String), ReceiptTimes> = HashMap::new();
    for receipt in receipts {
        let key = (receipt.receiver, receipt.identity.clone());
        if !expected.contains_key(&key) {
            problems.push(format!(
                "{} got a message no cycle made: {}",
                receipt.receiver, receipt.identity
            ));
        }
        for alert in &receipt.alerts {
            let id = alert["id"].as_str().unwrap_or_default();
            match oracle.decision(id) {
                Some(d) => problems.extend(check_alert(alert, d).err()),
                None => problems.push(format!("{} got an unknown alert {alert}", receipt.receiver)),
            }
        }
        by_message
            .entry(key)
            .or_default()
            .push((receipt.at_ns, run_of(receipt.at_ns)));
    }
    for (key, message) in &expected {
        if !by_message.contains_key(key) {
            problems.push(format!(
                "{} never got the message of cycle {} ({} alerts)",
                message.receiver,
                message.cycle,
                message.ids.len()
            ));
        }
    }
    // A message twice: only when the run that sent it first was SIGKILLed (and the next
    // receipt came from a later run).
    let mut duplicates = 0;
    let mut logged_then_killed = 0;
    for (key, times) in &mut by_message {
        times.sort();
        for pair in times.windows(2) {
            duplicates += 1;
            let (first, next) = (pair[0].1, pair[1].1);
            match (first, next) {
                (Some(f), Some(n)) if f < n && runs[f].killed => {
                    let logged = &runs[f].delivered_logged;
                    let told = expected.get(key).is_some_and(|m| {
                        m.ids
                            .iter()
                            .any(|id| logged.contains(&(key.0.to_string(), id.clone())))
                    });
                    logged_then_killed += usize::from(told);
                }
                _ => problems.push(format!(
                    "{} got {} twice, not across a kill (runs {first:?} and {next:?})",
                    key.0, key.1
                )),
            }
        }
    }
    Delivered {
        problems,
        received: receipts.len(),
        duplicates,
        logged_then_killed,
    }
}

#[test]
fn fault_soak() {
    let target = env_number("SOAK_CYCLES", DEFAULT_CYCLES as u64) as usize;
    let seed = env_number("SOAK_SEED", DEFAULT_SEED);
    assert!(target >= 1, "SOAK_CYCLES must be at least 1");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120 + 15 * target as u64);

    let scenario = Arc::new(Scenario::generate(
        seed,
        PROJECTS,
        target + EXTRA_EPOCHS,
        target,
    ));
    let dir = tempfile::tempdir().expect("soak directory");
    let state = dir.path().join("state.db");
    let gate = Arc::new(Gate::new(state.clone(), ACCOUNT, Arc::clone(&scenario)));
    let mut fakes = Fakes::start(seed, &gate);
    let config = write_config(dir.path(), &state, &scenario, &fakes);

    let (mut runs, daemon, spawned_ns) = run_with_kills(&config, &gate, target, seed, deadline);
    let kills = runs.len();
    let faults = fakes.stop_faults();
    runs.extend(stop_and_drain(&config, dir.path(), daemon, spawned_ns));
    let wall = started.elapsed();
    gate.observe(None).expect("read the poll health at the end");
    let gate_errors = gate.errors();
    assert!(
        gate_errors.is_empty(),
        "the CodeArts stand-in: {gate_errors:?}"
    );

    // The oracle, over the epochs each cycle recorded, at the times the cycles started.
    let db = Connection::open_with_flags(&state, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the state file");
    let integrity: Vec<String> = query(&db, "PRAGMA integrity_check");
    let cycle_ids: Vec<i64> = query(&db, "SELECT id FROM cycles ORDER BY id");
    let started_at: Vec<String> = query(&db, "SELECT started_at FROM cycles ORDER BY id");
    let recorded = gate.recorded();
    let epochs_recorded: usize = recorded.iter().map(Vec::len).sum();
    assert!(
        gate.min_recorded() > target,
        "{} epochs recorded for some project, for a target of {target} (+ the final once)",
        gate.min_recorded()
    );
    let mut polls: Vec<Vec<(String, Option<Vec<scenario::Pkg>>)>> =
        vec![Vec::new(); started_at.len()];
    for (project, times) in recorded.iter().enumerate() {
        for (epoch, at) in times.iter().enumerate() {
            let cycle = started_at
                .iter()
                .position(|s| s == at)
                .unwrap_or_else(|| panic!("no cycle started at {at}, when a poll was recorded"));
            polls[cycle].push((
                scenario.projects[project].clone(),
                scenario.epochs[epoch][project].outcome.clone().ok(),
            ));
        }
    }
    let mut oracle = Oracle::new(ACCOUNT, rules(), FAILURE_ALERT_AFTER);
    for (index, (now, polls)) in started_at.iter().zip(&polls).enumerate() {
        oracle.cycle(index, now, polls);
    }
    let cycle_index: HashMap<i64, usize> = cycle_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();

    let mut problems = check_state(&db, &oracle, &cycle_index);
    let delivered = check_receipts(&fakes.receipts(), &oracle, &runs);
    problems.extend(delivered.problems.iter().cloned());

    let (attempts, retried): (i64, i64) = db
        .query_row(
            "SELECT sum(attempts), sum(attempts > 1) FROM deliveries",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("count attempts");
    let polls_failed: usize = polls.iter().flatten().filter(|p| p.1.is_none()).count();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &oracle.decisions {
        *kinds.entry(d.kind).or_default() += 1;
    }
    let mut report = vec![
        format!("soak_seed {seed}"),
        format!("soak_projects {PROJECTS}"),
        format!("soak_cycles {}", cycle_ids.len()),
        format!("soak_epochs_recorded {epochs_recorded}"),
        format!("soak_kills {kills}"),
        format!("soak_processes {}", runs.len()),
        format!("soak_decisions {}", oracle.decisions.len()),
        format!("soak_decision_kinds {}", fault_list(&kinds)),
        format!("soak_polls_failed {polls_failed}"),
        format!("soak_poll_blips {}", gate.blips()),
        format!("soak_messages_expected {}", oracle.messages.len()),
        format!("soak_messages_received {}", delivered.received),
        format!("soak_duplicates {}", delivered.duplicates),
        // Checked below: every duplicate crossed a kill, or it is a problem.
        format!(
            "soak_duplicates_in_flight_at_a_kill {}",
            delivered.duplicates
        ),
        format!(
            "soak_duplicates_logged_delivered_then_killed {}",
            delivered.logged_then_killed
        ),
        format!("soak_delivery_attempts {attempts}"),
        format!("soak_deliveries_retried {retried}"),
    ];
    for (receiver, played) in faults {
        report.push(format!("soak_faults_{receiver} {played}"));
    }
    report.push(format!("soak_integrity_check {}", integrity.join(" ")));
    report.push(format!("soak_wall_seconds {:.0}", wall.as_secs_f64()));
    // Straight to stderr, past the test harness's capture: the figures belong in CI's log.
    let _ = writeln!(std::io::stderr(), "{}", report.join("\n"));

    assert_eq!(integrity, vec!["ok".to_string()], "PRAGMA integrity_check");
    assert!(
        problems.is_empty(),
        "{} problem(s) after the soak, first 40:\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn fault_list<K: std::fmt::Display, N: std::fmt::Display>(faults: &BTreeMap<K, N>) -> String {
    if faults.is_empty() {
        return "none".into();
    }
    faults
        .iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}
