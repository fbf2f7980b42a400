//! A state directory that fills up or turns read-only (issue 10): `renewd once` exits 1 naming
//! the file; `renewd run` logs `state.write_failed` at error, answers `/healthz` with 503 while
//! writes fail, loses no decision it had recorded, and recovers by itself.
//!
//! The state directory is a small tmpfs, or an ext4 image on a loop device mounted with
//! `errors=remount-ro` (a file system error then turns it read-only under the running daemon,
//! which a plain remount cannot do while files are open for writing). Both live in a private
//! mount namespace held by a `sleep` process: renewd runs in it through `nsenter`, and the test
//! reaches its files through `/proc/<holder>/root`; nothing is mounted on the machine itself.
//! Needs root (or what `unshare --mount` needs) and, for ext4, loop devices and e2fsprogs:
//! without them the tests say so and pass, unless `CI_REQUIRE_NAMESPACES` is set (`.ci/run`).

mod support;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::daemon_harness::{http_get, Daemon, BIN};
use support::fake_cloud::FakeCloud;
use support::harness::{alert_ids, packages, token_account, PROJECT, TOKEN};
use support::webhook_receiver::{ReceivedRequest, Reply, WebhookReceiver};

const WAIT: Duration = Duration::from_secs(60);
const STORAGE: &str = "codeartsStorageExtension";
const TRAFFIC: &str = "codeartsTrafficExtension";
const STORAGE_ID: &str = "7590809a5c9d42ae92b49b1190e94666";
const TRAFFIC_ID: &str = "37c9064954924750b2350e2d03e66666";

/// Says why the test cannot run here; fails instead when `CI_REQUIRE_NAMESPACES` is set.
fn skip(why: &str) {
    assert!(
        std::env::var_os("CI_REQUIRE_NAMESPACES").is_none(),
        "CI_REQUIRE_NAMESPACES is set, but {why}"
    );
    eprintln!("skipped: {why}");
}

/// A private mount namespace with one file system mounted at `dir`.
struct Namespace {
    holder: Child,
    dir: PathBuf,
    _temp: tempfile::TempDir,
}

impl Namespace {
    /// A tmpfs of `size` (e.g. `1m`).
    fn tmpfs(size: &str) -> Option<Namespace> {
        let temp = tempfile::tempdir().expect("temporary directory");
        let dir = temp.path().join("state");
        std::fs::create_dir(&dir).expect("mount point");
        let script = format!("mount -t tmpfs -o size={size},mode=0700 tmpfs \"$0\"");
        Self::hold(temp, dir, &script, &[])
    }

    /// An ext4 image of 16 MiB on a loop device, mounted with `errors=remount-ro`.
    fn ext4() -> Option<Namespace> {
        let temp = tempfile::tempdir().expect("temporary directory");
        let dir = temp.path().join("state");
        std::fs::create_dir(&dir).expect("mount point");
        let image = temp.path().join("state.img");
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(16 << 20))
            .expect("image file");
        let made = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&image)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !made.is_ok_and(|s| s.success()) {
            skip("mkfs.ext4 (e2fsprogs) is missing or fails here");
            return None;
        }
        let script = "mount -o loop,errors=remount-ro \"$1\" \"$0\"";
        Self::hold(temp, dir, script, &[image.as_os_str()])
    }

    fn hold(
        temp: tempfile::TempDir,
        dir: PathBuf,
        mount: &str,
        args: &[&std::ffi::OsStr],
    ) -> Option<Namespace> {
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(format!("{mount} && echo ready && exec sleep 3600"))
            .arg(&dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut line = String::new();
        use std::io::BufRead;
        let _ = std::io::BufReader::new(holder.stdout.take().expect("holder stdout"))
            .read_line(&mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            skip("`unshare --mount` with a mount in it fails here (needs root, or loop devices for ext4)");
            return None;
        }
        Some(Namespace {
            holder,
            dir,
            _temp: temp,
        })
    }

    /// A path in the mounted directory, as renewd sees it.
    fn inside(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The same path, reachable from the test's own namespace.
    fn outside(&self, name: &str) -> PathBuf {
        let relative = self.dir.strip_prefix("/").expect("absolute mount point");
        PathBuf::from(format!("/proc/{}/root", self.holder.id()))
            .join(relative)
            .join(name)
    }

    /// `program` run inside the namespace.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-m", "--"])
            .arg(program);
        command
    }

    /// A shell script run inside the namespace; panics when it fails.
    fn sh(&self, script: &str) {
        let output = self
            .command("sh")
            .args(["-c", script])
            .output()
            .expect("run nsenter");
        assert!(
            output.status.success(),
            "{script}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Fills the file system up with a file named `fill`.
    fn fill(&self) {
        let mut file = std::fs::File::create(self.outside("fill")).expect("create the filler");
        let chunk = vec![0u8; 64 << 10];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.write_all(&[0u8]);
    }

    fn free(&self) {
        std::fs::remove_file(self.outside("fill")).expect("remove the filler");
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // The last process in it gone, the namespace and its mounts go away.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The fake cloud, a webhook receiver and a config for renewd in `ns`.
struct Setup {
    cloud: FakeCloud,
    hook: WebhookReceiver,
    config: PathBuf,
    ns: Namespace,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Setup {
    fn new(ns: Namespace) -> Setup {
        let (cloud, runtime) = FakeCloud::start_on_own_runtime();
        cloud.add_token(TOKEN);
        let hook = WebhookReceiver::start();
        let dir = tempfile::tempdir().expect("config directory");
        let config = dir.path().join("renewd.toml");
        std::fs::write(
            &config,
            format!(
                "[daemon]\nstate_path = \"{}\"\nschedule = \"*/2 * * * * *\"\ntimeout = \"5s\"\n\n\
                 [http]\nlisten = \"127.0.0.1:0\"\n\n[log]\nformat = \"json\"\n\n{}\
                 [[rules]]\nname = \"default\"\nthresholds = [30, 14, 7, 3, 1, 0]\nreceivers = [\"ops\"]\n\n\
                 [receivers.ops]\ntype = \"webhook\"\nformat = \"json\"\nurl = \"{}\"\n",
                ns.inside("state.db").display(),
                token_account("prod", &cloud.url(), &[PROJECT], TOKEN),
                hook.url()
            ),
        )
        .expect("write the config");
        std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("config mode");
        let setup = Setup {
            cloud,
            hook,
            config,
            ns,
            _dir: dir,
            _runtime: runtime,
        };
        setup.serve(20, 25);
        setup
    }

    /// The two packages of the example project at these remaining days.
    fn serve(&self, storage: i64, traffic: i64) {
        self.cloud.set_packages(
            Some(PROJECT),
            packages(&[
                (STORAGE, STORAGE_ID, 2, storage),
                (TRAFFIC, TRAFFIC_ID, 2, traffic),
            ]),
        );
    }

    /// `renewd run` in the namespace.
    fn daemon(&self) -> Daemon {
        let mut command = self.ns.command(BIN);
        command.args(["run", "--config"]).arg(&self.config);
        Daemon::spawn_command(command, &[("RENEWD_LOG", "info")])
    }

    /// `renewd once` in the namespace: (exit code, stderr).
    fn once(&self) -> (i32, String) {
        let mut child = self
            .ns
            .command(BIN)
            .args(["once", "--config"])
            .arg(&self.config)
            .env("RENEWD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start renewd once");
        let deadline = Instant::now() + WAIT;
        while child.try_wait().expect("wait for renewd once").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("renewd once did not end within {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().expect("renewd once output");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Alert ids of the requests from `from` on, each once per request.
    fn ids_since(&self, from: usize) -> Vec<String> {
        let received: Vec<ReceivedRequest> = self.hook.received();
        received[from..]
            .iter()
            .flat_map(|r| alert_ids(&r.json()))
            .collect()
    }

    /// A copy of the state file, to read from the test: SQLite resolves the `/proc/<pid>/root`
    /// link to a path of the test's own namespace, so it cannot open the file through it.
    fn state_copy(&self) -> (tempfile::TempDir, rusqlite::Connection) {
        let copy = tempfile::tempdir().expect("copy directory");
        for suffix in ["", "-wal"] {
            let from = self.ns.outside(&format!("state.db{suffix}"));
            if from.exists() {
                std::fs::copy(&from, copy.path().join(format!("state.db{suffix}")))
                    .expect("copy the state file");
            }
        }
        let db = rusqlite::Connection::open_with_flags(
            copy.path().join("state.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
        )
        .expect("open the copy of the state file");
        (copy, db)
    }

    fn integrity_check(&self) -> String {
        let (_copy, db) = self.state_copy();
        db.query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity_check")
    }

    fn recorded_ids(&self) -> Vec<String> {
        let (_copy, db) = self.state_copy();
        let mut stmt = db.prepare("SELECT id FROM decisions").expect("query");
        stmt.query_map([], |row| row.get(0))
            .expect("decisions")
            .collect::<Result<_, _>>()
            .expect("decision ids")
    }
}

fn healthz(daemon: &Daemon) -> (u16, String) {
    let listening = daemon.wait_for_event("http.listening", WAIT);
    http_get(listening["address"].as_str().expect("address"), "/healthz")
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// What `run` does when the state's file system fails under it, then comes back: `fail`
/// breaks it, `repair` mends it, `expect` is what the failed write's error says.
fn run_through_a_storage_failure(setup: &Setup, fail: impl Fn(), repair: impl Fn(), expect: &str) {
    // The receiver refuses at first: the first cycle's decisions stay recorded and pending.
    setup.hook.set_script(Vec::new(), Reply::status(503));
    let mut daemon = setup.daemon();
    daemon.wait_for_event("notify.retrying", WAIT);
    let first = sorted(alert_ids(&setup.hook.received()[0].json()));
    assert_eq!(first.len(), 2, "{first:?}");
    assert_eq!(healthz(&daemon).0, 200);

    // New thresholds crossed, and the file system fails: the next cycle cannot record them.
    setup.serve(6, 13);
    fail();
    let failed = daemon.wait_for_event("state.write_failed", WAIT);
    let state_path = setup.ns.inside("state.db");
    assert_eq!(failed["level"], "ERROR", "{failed}");
    assert_eq!(failed["path"], state_path.display().to_string(), "{failed}");
    assert_eq!(failed["during"], "cycle", "{failed}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&state_path.display().to_string()) && error.contains(expect),
        "{failed}"
    );
    let (status, body) = healthz(&daemon);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the state store cannot be written"), "{body}");
    // It goes on trying (cycles keep coming), and keeps answering while it does.
    daemon.wait_for_events("state.write_failed", 3, WAIT);
    assert_eq!(healthz(&daemon).0, 503);
    assert!(daemon.is_running());

    // Mended: it recovers by itself, records the new decisions and sends them once.
    let answered_from = setup.hook.received().len();
    setup.hook.set_script(Vec::new(), Reply::status(200));
    repair();
    daemon.wait_for_event("state.recovered", WAIT);
    let (status, body) = healthz(&daemon);
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + WAIT;
    while setup.ids_since(answered_from).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the recovered cycle sent nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon.signal("TERM");
    assert!(daemon.wait_exit(WAIT).success());

    // The first cycle's decisions were not lost: `once` delivers them, once each.
    let (code, stderr) = setup.once();
    assert_eq!(code, 0, "{stderr}");
    let delivered = setup.ids_since(answered_from);
    let second: Vec<String> = delivered
        .iter()
        .filter(|id| !first.contains(id))
        .cloned()
        .collect();
    assert_eq!(
        second.len(),
        2,
        "the new decisions, each once: {delivered:?}"
    );
    let mut all = first.clone();
    all.extend(second);
    assert_eq!(
        sorted(delivered),
        sorted(all.clone()),
        "every decision once"
    );
    assert_eq!(sorted(setup.recorded_ids()), sorted(all));
    assert_eq!(setup.integrity_check(), "ok");
}

#[test]
fn run_survives_a_full_state_directory_and_recovers_when_space_returns() {
    let Some(ns) = Namespace::tmpfs("1m") else {
        return;
    };
    let setup = Setup::new(ns);
    run_through_a_storage_failure(&setup, || setup.ns.fill(), || setup.ns.free(), "full");
}

#[test]
fn run_survives_a_state_directory_that_turns_read_only() {
    let Some(ns) = Namespace::ext4() else {
        return;
    };
    let setup = Setup::new(ns);
    let image = setup.ns._temp.path().join("state.img");
    let dir = setup.ns.dir.clone();
    // The loop device's ext4, told it found an error: with errors=remount-ro it turns
    // read-only at once, open files and all.
    let break_it = || {
        let output = Command::new("losetup")
            .arg("-j")
            .arg(&image)
            .output()
            .expect("losetup -j");
        let listing = String::from_utf8_lossy(&output.stdout);
        let device = listing
            .split(':')
            .next()
            .and_then(|d| Path::new(d.trim()).file_name())
            .unwrap_or_else(|| panic!("no loop device for the image: {listing:?}"))
            .to_string_lossy()
            .into_owned();
        std::fs::write(
            format!("/sys/fs/ext4/{device}/trigger_fs_error"),
            "renewd disk fault test",
        )
        .expect("trigger an ext4 error");
    };
    // What an operator does: detach it, check it, mount it again at the same place.
    let repair = || {
        setup.ns.sh(&format!(
            "umount -l '{dir}' && {{ e2fsck -fy '{image}' >/dev/null; [ $? -le 1 ]; }} && \
             mount -o loop,errors=remount-ro '{image}' '{dir}'",
            dir = dir.display(),
            image = image.display()
        ));
    };
    run_through_a_storage_failure(&setup, break_it, repair, "I/O error");
}

/// `once` against a state directory that `break_it` spoils: exit 1, the file named, `expect`
/// in the error; after `mend`, the next `once` sends only what is new.
fn once_through_a_storage_failure(
    setup: &Setup,
    break_it: impl Fn(),
    mend: impl Fn(),
    expect: &str,
) {
    let (code, stderr) = setup.once();
    assert_eq!(code, 0, "{stderr}");
    let first = sorted(setup.ids_since(0));
    assert_eq!(first.len(), 2, "{first:?}");

    setup.serve(6, 13);
    break_it();
    let (code, stderr) = setup.once();
    assert_eq!(code, 1, "{stderr}");
    let state = setup.ns.inside("state.db").display().to_string();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("renewd: ") && last.contains(&state) && last.contains(expect),
        "{stderr}"
    );
    assert_eq!(
        setup.hook.received().len(),
        1,
        "nothing sent without a record"
    );

    mend();
    let (code, stderr) = setup.once();
    assert_eq!(code, 0, "{stderr}");
    let second = setup.ids_since(1);
    assert_eq!(second.len(), 2, "only the new decisions: {second:?}");
    assert!(second.iter().all(|id| !first.contains(id)), "{second:?}");
    assert_eq!(setup.integrity_check(), "ok");
}

#[test]
fn once_on_a_full_state_directory_exits_1_naming_the_file() {
    let Some(ns) = Namespace::tmpfs("1m") else {
        return;
    };
    let setup = Setup::new(ns);
    once_through_a_storage_failure(&setup, || setup.ns.fill(), || setup.ns.free(), "full");
}

#[test]
fn once_on_a_read_only_state_directory_exits_1_naming_the_file() {
    let Some(ns) = Namespace::tmpfs("1m") else {
        return;
    };
    let setup = Setup::new(ns);
    let dir = setup.ns.dir.display().to_string();
    once_through_a_storage_failure(
        &setup,
        || setup.ns.sh(&format!("mount -o remount,ro '{dir}'")),
        || setup.ns.sh(&format!("mount -o remount,rw '{dir}'")),
        "Read-only file system",
    );
}
