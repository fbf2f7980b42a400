//! The digest mail's HTML part in a real browser: headless Chromium (Debian's `chromium`)
//! renders a digest of five packages at 390 px (a phone) and at 1280 px (a desktop) wide.
//! At both widths nothing overflows horizontally and every Renew button lies inside the
//! viewport; at 390 px each is at least 88×32 CSS px (a comfortable tap target). The
//! screenshots are kept for people to look at: `target/mail-render/mail-390.png` and
//! `mail-1280.png`, next to the rendered `mail.html`.
//!
//! The browser is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
//! JSON messages ended by NUL on file descriptors 3 and 4), with no client library: the
//! viewport is set with `Emulation.setDeviceMetricsOverride` (headless Chromium does not make
//! a window narrower than 500 px, so `--window-size` cannot give a phone's width), the layout
//! is measured with `Runtime.evaluate`, and the screenshot is `Page.captureScreenshot`.
//! Without Chromium the test is skipped with its reason, unless `CI_REQUIRE_CHROMIUM=1` (CI)
//! makes that a failure.

mod support;

use base64::Engine as _;
use renewd::model::{Alert, AlertKind, Severity};
use renewd::notify::email::EmailTemplates;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The longest wait for one answer from Chromium (a cold start on a busy 2-core machine takes
/// seconds).
const TIMEOUT: Duration = Duration::from_secs(120);
/// The smallest Renew button at 390 px, in CSS px.
const MIN_BUTTON: (f64, f64) = (88.0, 32.0);

/// Five packages, one of each kind of urgency: expired (grace period), critical (1 day),
/// warning (5 days, with a plain-http renewal address: text, no button), warning (7 days),
/// info (25 days). Fixed instants: sent 2026-11-26 01:00 UTC.
fn five_packages() -> renewd::notify::Digest {
    let alert =
        |package: &str, days: i64| -> Alert { support::example_alert("ops-mail", package, days) };
    let mut plain = alert("codeartsBuildMinutesExtension", 5);
    plain.next_action_url = Some("http://renew.example.com/not-tls?order=7".into());
    let mut info = alert("codeartsPipelineParallelExtension", 25);
    info.severity = Severity::Info;
    let expired = alert("codeartsTrafficExtension", -2);
    assert_eq!(expired.kind, AlertKind::Expired);
    support::digest(
        "ops-mail",
        vec![
            alert("codeartsStorageExtension", 7),
            info,
            plain,
            expired,
            alert("codeartsArtifactExtension", 1),
        ],
    )
}

/// `target/mail-render/` (the integration tests' temporary directory is `target/tmp`).
fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("mail-render");
    std::fs::create_dir_all(&dir).expect("create target/mail-render");
    dir
}

/// Measures the laid-out page: the viewport, how wide the content is, every Renew button's
/// box, and which elements stick out of the viewport (to say what overflows).
const MEASURE: &str = r#"(function () {
  var d = document.documentElement;
  var r = {
    innerWidth: window.innerWidth,
    clientWidth: d.clientWidth,
    scrollWidth: d.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    scrollHeight: d.scrollHeight,
    buttons: [],
    overflowing: []
  };
  var links = document.querySelectorAll('a');
  for (var i = 0; i < links.length; i++) {
    if (links[i].textContent.trim() !== 'Renew') continue;
    var b = links[i].getBoundingClientRect();
    r.buttons.push({left: b.left, right: b.right, top: b.top, width: b.width, height: b.height,
                    label: links[i].getAttribute('aria-label')});
  }
  var all = document.body.getElementsByTagName('*');
  for (var j = 0; j < all.length; j++) {
    var e = all[j].getBoundingClientRect();
    if (e.right > d.clientWidth + 0.5 || e.left < -0.5) {
      r.overflowing.push(all[j].tagName + ' ' + Math.round(e.left) + '..' + Math.round(e.right) +
        ' ' + (all[j].textContent || '').trim().slice(0, 40));
    }
  }
  return JSON.stringify(r);
})()"#;

/// A headless Chromium driven over `--remote-debugging-pipe`, with one page attached.
struct Browser {
    child: Child,
    to_browser: std::io::PipeWriter,
    from_browser: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        // fd 3: what Chromium reads (our commands); fd 4: what it writes (answers, events).
        let (child_reads, to_browser) = std::io::pipe().expect("pipe");
        let (from_browser, child_writes) = std::io::pipe().expect("pipe");
        let (r, w) = (child_reads.as_raw_fd(), child_writes.as_raw_fd());
        let mut command = Command::new(CHROMIUM);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            // The suite also runs under libfaketime (.ci/run-tests-shifted), which makes
            // Chromium some forty times slower; the browser is a tool here, not what is under
            // test (the mail was rendered at fixed instants), so it runs on the true clock.
            .env_remove("LD_PRELOAD")
            .env_remove("FAKETIME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2). The ends
        // are first copied above 10 so that moving one onto 3 or 4 cannot clobber the other;
        // dup2 leaves the new descriptors open across exec.
        unsafe {
            command.pre_exec(move || {
                let r = libc::fcntl(r, libc::F_DUPFD, 10);
                let w = libc::fcntl(w, libc::F_DUPFD, 10);
                if r < 0 || w < 0 || libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
        drop((child_reads, child_writes));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_browser);
            let mut message = Vec::new();
            while reader.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                if message.last() == Some(&0) {
                    message.pop();
                }
                if let Ok(value) = serde_json::from_slice(&message) {
                    if tx.send(value).is_err() {
                        break;
                    }
                }
                message.clear();
            }
        });
        let mut browser = Browser {
            child,
            to_browser,
            from_browser: rx,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let attached = browser.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser.page("Page.enable", json!({}));
        browser
    }

    /// Sends one command and waits for its answer, skipping events.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("encode");
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("{method}: cannot write to chromium: {e}"));
        let answer = self.wait_for(method, |m| m["id"] == id);
        if let Some(error) = answer.get("error") {
            panic!("{method}: chromium answered {error}");
        }
        answer["result"].clone()
    }

    /// A command to the attached page.
    fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params)
    }

    /// The next message from the browser that `wanted` accepts.
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(message) if wanted(&message) => return message,
                Ok(_) => {}
                Err(e) => panic!("{what}: no answer from chromium within {TIMEOUT:?} ({e})"),
            }
        }
    }

    /// Loads `url` in a viewport `width` CSS px wide (a phone's when `mobile`) and returns the
    /// layout as [`MEASURE`] reports it.
    fn load(&mut self, url: &str, width: u32, height: u32, mobile: bool) -> Value {
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        self.page("Page.navigate", json!({"url": url}));
        let session = self.session.clone();
        self.wait_for("Page.loadEventFired", |m| {
            m["method"] == "Page.loadEventFired" && m["sessionId"] == session.as_str()
        });
        let result = self.page(
            "Runtime.evaluate",
            json!({"expression": MEASURE, "returnByValue": true}),
        );
        let text = result["result"]["value"]
            .as_str()
            .unwrap_or_else(|| panic!("measurement: {result}"));
        serde_json::from_str(text).expect("the measurement is JSON")
    }

    /// A PNG of the page's top `height` CSS px, at its current width.
    fn screenshot(&mut self, width: u32, height: u32) -> Vec<u8> {
        let shot = self.page(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            }),
        );
        let data = shot["data"].as_str().expect("screenshot data");
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64 PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask politely, then make sure: no browser outlives the test.
        let mut bytes =
            serde_json::to_vec(&json!({"id": 0, "method": "Browser.close"})).unwrap_or_default();
        bytes.push(0);
        let _ = self.to_browser.write_all(&bytes);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn number(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key} in {v}"))
}

#[test]
fn the_digest_mail_fits_a_phone_and_a_desktop_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        let reason = format!("{CHROMIUM} is not installed (Debian package chromium)");
        if std::env::var("CI_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("CI_REQUIRE_CHROMIUM=1 but {reason}");
        }
        eprintln!("skipped: {reason}");
        return;
    }
    let digest = five_packages();
    let (_, _, html) = EmailTemplates::built_in()
        .render(&digest)
        .expect("the built-in templates render");
    // Four https links become buttons; the plain-http one is text.
    assert_eq!(html.matches(">Renew</a>").count(), 4, "{html}");

    let dir = out_dir();
    let mail = dir.join("mail.html");
    std::fs::write(&mail, &html).expect("write mail.html");
    let url = format!("file://{}", mail.display());

    let mut browser = Browser::start();
    for (width, mobile) in [(390u32, true), (1280, false)] {
        let m = browser.load(&url, width, 800, mobile);
        let w = f64::from(width);
        assert_eq!(number(&m, "innerWidth"), w, "viewport at {width}: {m}");
        // No horizontal overflow: the page is no wider than the viewport.
        let client = number(&m, "clientWidth");
        assert!(
            number(&m, "scrollWidth") <= client && number(&m, "bodyScrollWidth") <= client,
            "horizontal overflow at {width} px: {m}"
        );
        assert_eq!(m["overflowing"], json!([]), "at {width} px");
        let buttons = m["buttons"].as_array().expect("buttons");
        assert_eq!(buttons.len(), 4, "Renew buttons at {width} px: {m}");
        for b in buttons {
            // Inside the viewport horizontally, at every width.
            assert!(
                number(b, "left") >= 0.0 && number(b, "right") <= client,
                "a Renew button outside the viewport at {width} px: {b}"
            );
            if width == 390 {
                assert!(
                    number(b, "width") >= MIN_BUTTON.0 && number(b, "height") >= MIN_BUTTON.1,
                    "a Renew button smaller than {MIN_BUTTON:?} at 390 px: {b}"
                );
            }
        }

        // The screenshot of the whole mail.
        let height = (number(&m, "scrollHeight").ceil() as u32).clamp(1, 10_000);
        let png = browser.screenshot(width, height);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let path = dir.join(format!("mail-{width}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!(
            "{width} px: {} Renew buttons inside, no overflow; screenshot {}",
            buttons.len(),
            path.display()
        );
    }
}
