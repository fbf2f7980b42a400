//! Runs the real `renewd` binary the way an operator would: a config file in a temporary
//! directory pointing at the test fakes on 127.0.0.1, the binary started as a child process, its
//! exit code, stdout and stderr captured.
//!
//! Children are started with tokio's process API, so the fakes that live on the test's runtime
//! (`FakeCloud`) keep answering while the test waits for the child.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_renewd");
/// The project of the documented example.
pub const PROJECT: &str = "666666af0f00445f85dec483fbc97c78";
/// A token the fake cloud is told to accept.
pub const TOKEN: &str = "MIItest-token-4c1f";
/// A safety net against a child that never ends (a hang is a failure, not a slow pass).
const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// What one run of the binary did.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code; -1 when the child was killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout and stderr together, for searching and for failure messages.
    pub fn output(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }

    /// Panics with the whole output unless the run exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            code,
            "expected exit code {code}, got {}\n{}",
            self.code,
            self.output()
        );
        self
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{}", self.output()))
    }

    /// The log lines (stderr, text format) of the event `name`.
    pub fn events(&self, name: &str) -> Vec<String> {
        let quoted = format!("event=\"{name}\"");
        let bare = format!("event={name}");
        self.stderr
            .lines()
            .filter(|l| l.contains(&quoted) || l.split_whitespace().any(|w| w == bare))
            .map(str::to_string)
            .collect()
    }
}

/// A temporary directory holding one installation: the config file, the state file and any
/// secret files. Dropping it removes everything.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("renewd.toml")
    }

    /// Writes the config file, readable by its owner only (as an operator should).
    pub fn write_config(&self, text: &str) -> PathBuf {
        self.write_file_mode("renewd.toml", text, 0o600)
    }

    /// Writes a file in the workspace with `mode`.
    pub fn write_file_mode(&self, name: &str, content: &str, mode: u32) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write a workspace file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("set file mode");
        path
    }

    /// Runs `renewd --config <workspace config> <args…>` at log level `info`.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[]).await
    }

    /// [`Workspace::run`] with extra environment variables (e.g. `RENEWD_LOG=trace`).
    pub async fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let child = self.spawn(args, env);
        let output = tokio::time::timeout(CHILD_LIMIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("renewd {args:?} did not end within {CHILD_LIMIT:?}"))
            .expect("wait for renewd");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts `renewd --config <workspace config> <args…>` without waiting (crash tests).
    /// The child is killed if the handle is dropped.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Child {
        let mut command = tokio::process::Command::new(BIN);
        command
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for key in super::inherited_vars_to_scrub() {
            command.env_remove(key);
        }
        command.env("RENEWD_LOG", "info");
        for (key, value) in env {
            command.env(key, value);
        }
        command.spawn().expect("start the renewd binary")
    }
}

// ---------------------------------------------------------------------------------------------
// Config pieces. Tests assemble a config from these, so each test shows what it configures.
// ---------------------------------------------------------------------------------------------

/// `[daemon]` with the workspace's state file, a 5 s API timeout unless `extra` sets one, and
/// `extra` lines.
pub fn daemon_section(workspace: &Workspace, extra: &str) -> String {
    let timeout = if extra.contains("timeout") {
        ""
    } else {
        "timeout = \"5s\"\n"
    };
    format!(
        "[daemon]\nstate_path = \"{}\"\n{timeout}{extra}\n\n",
        workspace.state_path().display()
    )
}

/// An account on the fake cloud with token auth.
pub fn token_account(name: &str, endpoint: &str, projects: &[&str], token: &str) -> String {
    format!(
        "[[accounts]]\nname = \"{name}\"\nregion = \"cn-north-4\"\nendpoint = \"{endpoint}\"\nprojects = {}\nauth = {{ method = \"token\", token = \"{token}\" }}\n\n",
        toml_list(projects)
    )
}

/// A rule matching everything.
pub fn rule(name: &str, thresholds: &[i64], receivers: &[&str]) -> String {
    let thresholds: Vec<String> = thresholds.iter().map(i64::to_string).collect();
    format!(
        "[[rules]]\nname = \"{name}\"\nthresholds = [{}]\nreceivers = {}\n\n",
        thresholds.join(", "),
        toml_list(receivers)
    )
}

/// A `format = "json"` webhook receiver.
pub fn webhook_receiver(name: &str, url: &str) -> String {
    format!("[receivers.{name}]\ntype = \"webhook\"\nformat = \"json\"\nurl = \"{url}\"\n\n")
}

/// An email receiver.
pub fn email_receiver(name: &str, to: &[&str]) -> String {
    format!(
        "[receivers.{name}]\ntype = \"email\"\nto = {}\n\n",
        toml_list(to)
    )
}

/// `[smtp]` for a test server on 127.0.0.1 (STARTTLS with the test CA), logging in with
/// `password` when the server wants a login.
pub fn smtp_section(server: &super::smtp_server::SmtpServer, password: &str) -> String {
    let login = match server.user() {
        Some(user) => format!("username = \"{user}\"\npassword = \"{password}\"\n"),
        None => String::new(),
    };
    format!(
        "[smtp]\nhost = \"{}\"\nport = {}\nsecurity = \"starttls\"\nfrom = \"renewd <renewd@example.com>\"\ntimeout = \"5s\"\nca_file = \"{}\"\n{login}\n",
        server.host(),
        server.port(),
        server.ca_file().display()
    )
}

/// The usual installation: one token account on `cloud_url` for the example project, a rule
/// with thresholds 30/14/7/3/1/0 to the webhook `ops` at `hook_url`.
pub fn basic_config(workspace: &Workspace, cloud_url: &str, hook_url: &str) -> String {
    format!(
        "{}{}{}{}",
        daemon_section(workspace, ""),
        token_account("prod", cloud_url, &[PROJECT], TOKEN),
        rule("default", &[30, 14, 7, 3, 1, 0], &["ops"]),
        webhook_receiver("ops", hook_url)
    )
}

fn toml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Packages as the API reports them
// ---------------------------------------------------------------------------------------------

/// One `result` entry: `(key, resourceId, packageStatus, remainDays)` with an https renew link.
pub fn package_entry(resource_id: &str, status: i64, remain_days: i64) -> Value {
    serde_json::json!({
        "resourceId": resource_id,
        "serviceType": "hws.resource.type.codearts.extension.storage",
        "packageStatus": status,
        "remainDays": remain_days,
        "nextActionUrl": format!("https://console.example.com/renew?resource={resource_id}"),
    })
}

/// A `result` map from `(key, resourceId, packageStatus, remainDays)`.
pub fn packages(entries: &[(&str, &str, i64, i64)]) -> Value {
    let mut map = serde_json::Map::new();
    for (key, resource_id, status, days) in entries {
        map.insert(
            (*key).to_string(),
            package_entry(resource_id, *status, *days),
        );
    }
    Value::Object(map)
}

/// The alerts of a received renewd JSON webhook body.
pub fn alerts_of(body: &Value) -> Vec<Value> {
    body["alerts"].as_array().cloned().unwrap_or_default()
}

/// The `id`s of the alerts of a received renewd JSON webhook body.
pub fn alert_ids(body: &Value) -> Vec<String> {
    alerts_of(body)
        .iter()
        .map(|a| a["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits (without blocking the runtime) until `receiver` got at least `n` requests.
pub async fn wait_for_requests(
    receiver: &super::webhook_receiver::WebhookReceiver,
    n: usize,
    timeout: Duration,
) -> Vec<super::webhook_receiver::ReceivedRequest> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let received = receiver.received();
        if received.len() >= n {
            return received;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} webhook request(s) within {timeout:?}, got {}",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
