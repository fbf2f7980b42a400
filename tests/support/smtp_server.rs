//! A real SMTP server on 127.0.0.1 for tests: aiosmtpd (tests/support/smtp_server.py) in a
//! Python virtual environment made on first use under `target/test-venv`, with a test CA and a
//! leaf certificate for 127.0.0.1/localhost, STARTTLS (or implicit TLS, or plain) and optional
//! AUTH. Each accepted message is a file that [`SmtpServer::messages`] reads back. The server
//! can be stopped and started again on the same port, and is killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");

/// How the server speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    /// Plain connection, STARTTLS required before MAIL/AUTH.
    Starttls,
    /// TLS from the first byte (port 465 style).
    ImplicitTls,
    /// No TLS at all.
    Plain,
}

#[derive(Debug, Clone)]
pub struct SmtpOptions {
    pub mode: SmtpMode,
    /// `Some((user, password))`: AUTH LOGIN/PLAIN required with these.
    pub credentials: Option<(String, String)>,
}

impl Default for SmtpOptions {
    fn default() -> Self {
        SmtpOptions {
            mode: SmtpMode::Starttls,
            credentials: Some(("renewd".into(), "s3cret-Passw0rd".into())),
        }
    }
}

/// Messages refused on purpose (see smtp_server.py's `--fault-rate`).
#[derive(Debug, Clone, Copy)]
pub struct SmtpFaults {
    /// Share of messages refused, 0.0 to 1.0.
    pub rate: f64,
    pub seed: u64,
    /// How long a stalled DATA is held before it is refused.
    pub stall: Duration,
}

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The client's port: equal for messages sent over one (reused) connection.
    pub peer_port: Option<u16>,
    /// The raw message (headers and body) as sent.
    pub data: Vec<u8>,
    /// When it was accepted, on the machine's monotonic clock (`super::monotonic_ns`).
    pub accepted_ns: Option<u64>,
}

impl ReceivedMail {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

pub struct SmtpServer {
    options: SmtpOptions,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    faults: Option<SmtpFaults>,
}

impl SmtpServer {
    /// Starts a server on a free port (STARTTLS + AUTH with the default options).
    pub fn start(options: SmtpOptions) -> SmtpServer {
        Self::start_flaky(options, None)
    }

    /// Starts a server that refuses some messages on purpose (`None`: none).
    pub fn start_flaky(options: SmtpOptions, faults: Option<SmtpFaults>) -> SmtpServer {
        let dir = tempfile::tempdir().expect("temp dir for the SMTP server");
        std::fs::create_dir(dir.path().join("mail")).expect("mail dir");
        write_certificates(dir.path());
        let mut server = SmtpServer {
            options,
            port: 0,
            dir,
            child: None,
            faults,
        };
        server.spawn();
        server
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// PEM of the CA that signed the server's certificate (for `smtp.ca_file`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn user(&self) -> Option<&str> {
        self.options.credentials.as_ref().map(|(u, _)| u.as_str())
    }

    pub fn password(&self) -> Option<&str> {
        self.options.credentials.as_ref().map(|(_, p)| p.as_str())
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server; the port stays reserved for [`SmtpServer::restart`] (nothing else on
    /// this machine is expected to grab it in between).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Changes the faults; takes effect at the next [`SmtpServer::restart`].
    pub fn set_faults(&mut self, faults: Option<SmtpFaults>) {
        self.faults = faults;
    }

    /// How many messages the running server refused on purpose, by fault.
    pub fn faults_played(&self) -> std::collections::BTreeMap<String, u64> {
        std::fs::read_to_string(self.dir.path().join("faults.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Every message received so far, in arrival order.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mail_dir = self.dir.path().join("mail");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&mail_dir)
            .expect("read mail dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("read a received message");
                let value: serde_json::Value = serde_json::from_str(&text).expect("message JSON");
                use base64::Engine as _;
                ReceivedMail {
                    mail_from: value["mail_from"].as_str().unwrap_or_default().to_string(),
                    rcpt_tos: value["rcpt_tos"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    peer_port: value["peer_port"]
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok()),
                    data: base64::engine::general_purpose::STANDARD
                        .decode(value["data_b64"].as_str().unwrap_or_default())
                        .expect("base64 message data"),
                    accepted_ns: value["accepted_ns"].as_u64(),
                }
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived, or panics after `timeout`.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "expected {n} message(s) within {timeout:?}, got {}",
                    messages.len()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn spawn(&mut self) {
        let python = venv_python();
        let dir = self.dir.path();
        let mut command = Command::new(python);
        command
            .arg(SCRIPT)
            .arg("serve")
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--maildir")
            .arg(dir.join("mail"))
            .arg("--mode")
            .arg(match self.options.mode {
                SmtpMode::Starttls => "starttls",
                SmtpMode::ImplicitTls => "tls",
                SmtpMode::Plain => "plain",
            })
            .arg("--cert")
            .arg(dir.join("server.pem"))
            .arg("--key")
            .arg(dir.join("server.key"));
        if let Some((user, password)) = &self.options.credentials {
            command
                .arg("--user")
                .arg(user)
                .arg("--password")
                .arg(password);
        }
        if let Some(faults) = &self.faults {
            command
                .arg("--fault-rate")
                .arg(faults.rate.to_string())
                .arg("--fault-seed")
                .arg(faults.seed.to_string())
                .arg("--stall-secs")
                .arg(faults.stall.as_secs_f64().to_string());
        }
        let stderr_log = std::fs::File::create(dir.join("server.log")).expect("server log");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr_log)
            .spawn()
            .expect("start the SMTP server");
        let mut stdout = BufReader::new(child.stdout.take().expect("server stdout"));
        let mut line = String::new();
        // Blocks until the server listens, or ends with EOF if it died first.
        let _ = stdout.read_line(&mut line);
        let Some(port) = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse::<u16>().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            let mut log = String::new();
            let _ = std::fs::File::open(dir.join("server.log"))
                .and_then(|mut f| f.read_to_string(&mut log));
            panic!("the SMTP server did not start (said {line:?}):\n{log}");
        };
        self.port = port;
        self.child = Some(child);
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The venv's python, creating the venv (once per machine, safely across processes) first.
fn venv_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .expect("target dir")
                .to_path_buf();
            let venv = target.join("test-venv");
            let output = Command::new("python3")
                .arg(SCRIPT)
                .arg("ensure-venv")
                .arg(&venv)
                .output()
                .expect("run python3 (needed for the test SMTP server)");
            assert!(
                output.status.success(),
                "could not create the test venv with aiosmtpd:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            venv.join("bin").join("python")
        })
        .clone()
}

/// A CA and a leaf certificate for 127.0.0.1 and localhost signed by it (rustls rejects a
/// self-signed CA used directly as the server certificate).
fn write_certificates(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "renewd test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().expect("server key");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .expect("server params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "renewd test SMTP server");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("server certificate");

    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write ca.pem");
    std::fs::write(dir.join("server.pem"), leaf_cert.pem()).expect("write server.pem");
    std::fs::write(dir.join("server.key"), leaf_key.serialize_pem()).expect("write server.key");
}
