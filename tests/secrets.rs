//! Secrets never reach output (issue 4 #5): a config holding every kind of secret — given
//! inline, through `*_file` (one through `$CREDENTIALS_DIRECTORY`), and through `RENEWD_*`
//! environment overrides — is run with `check`, `once`, `status` and `test-notify` at
//! `RENEWD_LOG=trace`, on the happy path and with every credential refused, and everything the
//! binary printed is searched for every secret value. Each run must also have used the secrets
//! (the fakes saw them), so the search is not vacuous.

mod support;

use base64::Engine as _;
use support::fake_cloud::FakeCloud;
use support::harness::*;
use support::smtp_server::{SmtpMode, SmtpOptions, SmtpServer};
use support::webhook_receiver::WebhookReceiver;

const DOMAIN: &str = "secret-test-domain";
const IAM_USER: &str = "renewd-reader";
const AK: &str = "HPUASECRETTESTAK0001";
const SMTP_USER: &str = "renewd";

/// Every secret of one config. The values are distinctive so that a match is never chance.
struct Secrets {
    token: &'static str,
    password: &'static str,
    sk: &'static str,
    security_token: &'static str,
    smtp_password: &'static str,
    webhook_secret: &'static str,
    /// The key inside the webhook URL's query.
    hook_key: &'static str,
}

const GOOD: Secrets = Secrets {
    token: "tokSECRET-3f9a1c7e55d2",
    password: "pwSECRET-b81d0e4a96c3",
    sk: "skSECRET-77c2e9f0a4b1",
    security_token: "stsSECRET-1e6b3d8c0f92",
    smtp_password: "smtpSECRET-5a0c2e7b9d41",
    webhook_secret: "whSECRET-c4d9e2a7f016",
    hook_key: "hookkeySECRET-9e3b5c1a7d80",
};

/// Wrong values, just as secret: error paths must not print them either.
const BAD: Secrets = Secrets {
    token: "badtokSECRET-0a1b2c3d4e5f",
    password: "badpwSECRET-6a7b8c9d0e1f",
    sk: "badskSECRET-2a3b4c5d6e7f",
    security_token: "badstsSECRET-8a9b0c1d2e3f",
    smtp_password: "badsmtpSECRET-4a5b6c7d8e9f",
    webhook_secret: "badwhSECRET-0f1e2d3c4b5a",
    hook_key: "badhookkeySECRET-6f7e8d9c0b1a",
};

impl Secrets {
    /// Every value to search for, with the encodings a careless log could carry them in
    /// (SMTP AUTH sends base64).
    fn needles(&self) -> Vec<String> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        vec![
            self.token.to_string(),
            self.password.to_string(),
            self.sk.to_string(),
            self.security_token.to_string(),
            self.smtp_password.to_string(),
            self.webhook_secret.to_string(),
            self.hook_key.to_string(),
            b64(self.smtp_password),
            b64(&format!("\0{SMTP_USER}\0{}", self.smtp_password)),
        ]
    }
}

/// How the secrets reach renewd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Inline,
    File,
    Env,
}

struct Fakes {
    cloud: FakeCloud,
    hook: WebhookReceiver,
    smtp: SmtpServer,
}

impl Fakes {
    /// Fakes that accept the [`GOOD`] secrets.
    async fn start() -> Fakes {
        let cloud = FakeCloud::start().await;
        cloud.add_token(GOOD.token);
        cloud.set_iam_user(DOMAIN, IAM_USER, GOOD.password);
        cloud.add_temporary_access_key(AK, GOOD.sk, GOOD.security_token);
        let smtp = SmtpServer::start(SmtpOptions {
            mode: SmtpMode::Starttls,
            credentials: Some((SMTP_USER.into(), GOOD.smtp_password.into())),
        });
        Fakes {
            cloud,
            hook: WebhookReceiver::start(),
            smtp,
        }
    }
}

/// Writes the config (and secret files) for `secrets` given `via`; returns the environment the
/// binary needs. `hook_base` is the webhook URL without its query.
fn install(
    ws: &Workspace,
    fakes: &Fakes,
    secrets: &Secrets,
    via: Via,
    hook_base: &str,
) -> Vec<(String, String)> {
    let url = fakes.cloud.url();
    let hook_url = format!("{hook_base}?access_token={}", secrets.hook_key);
    let creds = ws.path().join("credentials");
    std::fs::create_dir_all(&creds).expect("credentials dir");
    // One trailing newline, as `echo` or systemd-creds leave it.
    let secret_file = |name: &str, value: &str| {
        let path = creds.join(name);
        std::fs::write(&path, format!("{value}\n")).expect("write a secret file");
        path.display().to_string()
    };
    let mut env: Vec<(String, String)> = Vec::new();
    let (token, password, sk, smtp_password, hook) = match via {
        Via::Inline => (
            format!("token = \"{}\"", secrets.token),
            format!("password = \"{}\"", secrets.password),
            format!(
                "sk = \"{}\", security_token = \"{}\"",
                secrets.sk, secrets.security_token
            ),
            format!("password = \"{}\"", secrets.smtp_password),
            format!(
                "url = \"{hook_url}\"\nsecret = \"{}\"",
                secrets.webhook_secret
            ),
        ),
        Via::File => {
            // A relative name is a systemd credential, read from $CREDENTIALS_DIRECTORY.
            secret_file("token", secrets.token);
            env.push(("CREDENTIALS_DIRECTORY".into(), creds.display().to_string()));
            (
                "token_file = \"token\"".to_string(),
                format!(
                    "password_file = \"{}\"",
                    secret_file("password", secrets.password)
                ),
                format!(
                    "sk_file = \"{}\", security_token_file = \"{}\"",
                    secret_file("sk", secrets.sk),
                    secret_file("security_token", secrets.security_token)
                ),
                format!(
                    "password_file = \"{}\"",
                    secret_file("smtp_password", secrets.smtp_password)
                ),
                format!(
                    "url_file = \"{}\"\nsecret_file = \"{}\"",
                    secret_file("hook_url", &hook_url),
                    secret_file("hook_secret", secrets.webhook_secret)
                ),
            )
        }
        Via::Env => {
            for (key, value) in [
                ("RENEWD_ACCOUNTS__TOK__AUTH__TOKEN", secrets.token),
                ("RENEWD_ACCOUNTS__PWD__AUTH__PASSWORD", secrets.password),
                ("RENEWD_ACCOUNTS__KEYS__AUTH__SK", secrets.sk),
                (
                    "RENEWD_ACCOUNTS__KEYS__AUTH__SECURITY_TOKEN",
                    secrets.security_token,
                ),
                ("RENEWD_SMTP__PASSWORD", secrets.smtp_password),
                ("RENEWD_RECEIVERS__OPS_HOOK__URL", hook_url.as_str()),
                ("RENEWD_RECEIVERS__OPS_HOOK__SECRET", secrets.webhook_secret),
            ] {
                env.push((key.to_string(), value.to_string()));
            }
            (
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            )
        }
    };
    let sep = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!(", {s}")
        }
    };
    let config = format!(
        r#"{daemon}
[[accounts]]
name = "tok"
region = "cn-north-4"
endpoint = "{url}"
projects = ["{PROJECT}"]
auth = {{ method = "token"{token} }}

[[accounts]]
name = "pwd"
region = "cn-north-4"
endpoint = "{url}"
projects = ["1f2e3d4c5b6a79880716253443526170"]
auth = {{ method = "password", domain = "{DOMAIN}", user = "{IAM_USER}", iam_endpoint = "{url}"{password} }}

[[accounts]]
name = "keys"
region = "cn-north-4"
endpoint = "{url}"
projects = ["2c3d4e5f60718293a4b5c6d7e8f90a1b"]
auth = {{ method = "aksk", ak = "{AK}"{sk} }}

[[rules]]
name = "default"
thresholds = [30, 14, 7, 3, 1, 0]
receivers = ["ops-hook", "ops-mail"]

[smtp]
host = "{smtp_host}"
port = {smtp_port}
security = "starttls"
from = "renewd <renewd@example.com>"
timeout = "5s"
ca_file = "{ca}"
username = "{SMTP_USER}"
{smtp_password}

[receivers.ops-hook]
type = "webhook"
format = "json"
{hook}

[receivers.ops-mail]
type = "email"
to = ["ops@example.com"]
"#,
        daemon = daemon_section(ws, "failure_alert_after = 1"),
        token = sep(&token),
        password = sep(&password),
        sk = sep(&sk),
        smtp_host = fakes.smtp.host(),
        smtp_port = fakes.smtp.port(),
        ca = fakes.smtp.ca_file().display(),
    );
    ws.write_config(&config);
    env
}

/// Runs the commands at trace level and returns everything they printed, with each run.
async fn run_all(ws: &Workspace, env: &[(String, String)], commands: &[&[&str]]) -> Vec<Run> {
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    env.push(("RENEWD_LOG", "trace"));
    let mut runs = Vec::new();
    for args in commands {
        runs.push(ws.run_with_env(args, &env).await);
    }
    runs
}

fn assert_no_secret(runs: &[Run], secrets: &[&Secrets]) {
    for run in runs {
        let out = run.output();
        for secrets in secrets {
            for needle in secrets.needles() {
                assert!(
                    !out.contains(&needle),
                    "a secret ({needle}) was printed:\n{out}"
                );
            }
        }
    }
}

/// The happy path: every secret is used, none is printed.
async fn secrets_stay_hidden(via: Via) {
    let fakes = Fakes::start().await;
    let ws = Workspace::new();
    let env = install(&ws, &fakes, &GOOD, via, &fakes.hook.url());

    let runs = run_all(
        &ws,
        &env,
        &[
            &["check"],
            &["once"],
            &["status"],
            &["status", "--json"],
            &["test-notify", "ops-mail"],
            &["test-notify", "ops-hook"],
        ],
    )
    .await;
    for run in &runs {
        run.expect_code(0);
    }
    assert!(
        runs[0].stdout.contains("keys"),
        "check describes the accounts: {}",
        runs[0].output()
    );
    assert!(
        !runs[1].events("poll.succeeded").is_empty(),
        "trace logs were written: {}",
        runs[1].output()
    );
    assert!(
        runs[1].stderr.contains("TRACE") || runs[1].stderr.contains("DEBUG"),
        "the run logged below info: {}",
        runs[1].output()
    );

    // The secrets were used: every account polled, the login made, the hook called at its
    // keyed URL and signed, the mail server logged into.
    assert_eq!(fakes.cloud.request_count(Some(PROJECT)), 1);
    assert_eq!(fakes.cloud.login_count(), 1);
    assert_eq!(
        fakes
            .cloud
            .last_headers(Some("2c3d4e5f60718293a4b5c6d7e8f90a1b"))
            .and_then(|h| h.get("x-security-token").cloned())
            .as_ref()
            .and_then(|v| v.to_str().ok().map(str::to_string)),
        Some(GOOD.security_token.to_string())
    );
    let hooked = fakes.hook.received();
    assert_eq!(hooked.len(), 2, "the cycle's digest and the test message");
    for request in &hooked {
        assert_eq!(
            request.query.as_deref(),
            Some(format!("access_token={}", GOOD.hook_key).as_str())
        );
        assert!(request.header("x-renewd-signature").is_some());
    }
    assert_eq!(fakes.smtp.messages().len(), 2);

    assert_no_secret(&runs, &[&GOOD]);
}

#[tokio::test]
async fn inline_secrets_never_reach_the_output() {
    secrets_stay_hidden(Via::Inline).await;
}

#[tokio::test]
async fn secrets_from_files_never_reach_the_output() {
    secrets_stay_hidden(Via::File).await;
}

#[tokio::test]
async fn secrets_from_the_environment_never_reach_the_output() {
    secrets_stay_hidden(Via::Env).await;
}

/// Every credential refused and the webhook unreachable: errors name what failed, never with
/// what secret.
#[tokio::test]
async fn refused_credentials_are_reported_without_the_secrets() {
    let fakes = Fakes::start().await;
    // A port nothing listens on: the webhook's connection error must not print its keyed URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_hook = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    for via in [Via::Inline, Via::Env] {
        let ws = Workspace::new();
        let env = install(&ws, &fakes, &BAD, via, &dead_hook);
        let runs = run_all(
            &ws,
            &env,
            &[
                &["once"],
                &["status"],
                &["status", "--json"],
                &["test-notify", "ops-mail"],
                &["test-notify", "ops-hook"],
            ],
        )
        .await;
        runs[0].expect_code(1);
        assert_eq!(
            runs[0].events("poll.failed").len(),
            3,
            "every account was refused: {}",
            runs[0].output()
        );
        runs[3].expect_code(1);
        assert!(runs[3].output().contains("535"), "{}", runs[3].output());
        runs[4].expect_code(1);
        assert_no_secret(&runs, &[&BAD, &GOOD]);
    }
    assert!(fakes.hook.received().is_empty());
    assert!(fakes.smtp.messages().is_empty());
}

#[tokio::test]
async fn a_config_with_inline_secrets_readable_by_others_is_warned_about() {
    let fakes = Fakes::start().await;
    let ws = Workspace::new();
    install(&ws, &fakes, &GOOD, Via::Inline, &fakes.hook.url());
    use std::os::unix::fs::PermissionsExt;
    let path = ws.config_path();

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = ws.run(&["check"]).await;
    run.expect_code(0);
    let warned = run.events("config.secrets_exposed");
    assert_eq!(warned.len(), 1, "{}", run.output());
    assert!(warned[0].contains("WARN"), "{}", warned[0]);
    assert!(warned[0].contains("644"), "{}", warned[0]);
    assert!(
        warned[0].contains(&path.display().to_string()),
        "{}",
        warned[0]
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let run = ws.run(&["check"]).await;
    run.expect_code(0);
    assert!(
        run.events("config.secrets_exposed").is_empty(),
        "{}",
        run.output()
    );

    // Secrets in files: the config itself holds none, so 0644 is fine.
    let ws = Workspace::new();
    let env = install(&ws, &fakes, &GOOD, Via::File, &fakes.hook.url());
    std::fs::set_permissions(ws.config_path(), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let run = ws.run_with_env(&["check"], &env).await;
    run.expect_code(0);
    assert!(
        run.events("config.secrets_exposed").is_empty(),
        "{}",
        run.output()
    );
}
