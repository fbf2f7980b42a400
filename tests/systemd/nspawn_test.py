#!/usr/bin/env python3
"""systemd/renewd.service under a real systemd.

Boots a minimal Debian (made once with debootstrap under target/) in systemd-nspawn, installs
the Debian package with `apt-get install ./renewd_*.deb` as an operator would (the unit exactly as
packaged, plus a drop-in that loads the API token and the webhook URL as credentials), enables
the service with `systemctl enable`, and checks what an operator relies on: the packaged unit, `Type=notify` readiness, DynamicUser with
StateDirectory, credentials, cycles that deliver once, journal entries with fields, /metrics,
`systemctl reload` with a valid and an invalid config, the watchdog, and a clean stop; then
that `apt-get purge` takes the config and the state with it. The
container shares the host's network, so renewd reaches the fake CodeArts endpoint and the
webhook receiver this script runs on 127.0.0.1; nothing leaves the machine but debootstrap's
download from the Debian mirror.

Usage: tests/systemd/nspawn_test.py PATH/TO/renewd_VERSION_ARCH.deb     (as root; needs
systemd-nspawn and debootstrap; the .deb comes from `cargo deb`). Exit 0 when every check holds, 1 on the first that does not.
"""
import http.server
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOT = os.environ.get("NSPAWN_ROOT", os.path.join(REPO, "target", "nspawn-root"))
MIRROR = "http://deb.debian.org/debian"
PROJECT = "666666af0f00445f85dec483fbc97c78"
TOKEN = "MIInspawn-token-5e7a"
MACHINE = "renewd-unit-test"


def log(message):
    print(f"[nspawn] {message}", flush=True)


def fail(message):
    print(f"[nspawn] FAILED: {message}", flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)
    log(f"ok: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_root():
    """The image, made once; the marker is written only after debootstrap succeeded, so an
    image left half-made by an interrupted run is made again."""
    # -deb: images made before renewd came as a package hold copied files that would shadow it.
    marker = os.path.join(ROOT, ".renewd-image-complete-deb")
    if os.path.exists(marker):
        return
    log(f"debootstrap of a minimal Debian into {ROOT} (once)")
    shutil.rmtree(ROOT, ignore_errors=True)
    # procps: /bin/kill for ExecReload=. ca-certificates: renewd refuses to start without them.
    subprocess.run(
        ["debootstrap", "--variant=minbase",
         "--include=systemd,systemd-sysv,dbus,ca-certificates,procps", "bookworm", ROOT, MIRROR],
        check=True, stdout=subprocess.DEVNULL)
    open(marker, "w").close()


class Hook(http.server.BaseHTTPRequestHandler):
    """The webhook receiver: records each POST body."""
    bodies = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.bodies.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def in_image(*command, bind=None):
    """A command in the image without booting it (as dpkg's maintainer scripts run in an
    installer: no systemd running, so they start nothing)."""
    args = ["systemd-nspawn", "-D", ROOT, "--register=no", "--keep-unit", "--quiet", "--pipe"]
    if bind:
        args.append(f"--bind-ro={bind[0]}:{bind[1]}")
    result = subprocess.run(args + ["--", *command], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=300)
    if result.returncode != 0:
        fail(f"{' '.join(command)} in the image exited {result.returncode}:\n"
             f"{result.stdout}{result.stderr}")
    return result.stdout


def image_path(path):
    return os.path.join(ROOT, path.lstrip("/"))


def install(package, cloud_port, hook_port, http_port):
    """The package with apt, as the README says; then the operator's part: credentials, the
    config, a drop-in, `systemctl enable`."""
    def put(path, content, mode):
        full = image_path(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)
        os.chmod(full, mode)

    # A fresh install each run: the previous run's package, config and state go first.
    # (dpkg, not apt: apt knows no package that is neither installed nor in a package list.)
    in_image("dpkg", "--purge", "renewd")
    # The dependencies (libc6, ca-certificates, procps) are in the image already, so apt downloads
    # nothing and needs no package lists; a missing one fails here, saying so. (Not
    # --no-download: apt 2.6 then refuses the local file, "Pathname to install is not absolute".)
    in_image("apt-get", "install", "-y", "-q", "/tmp/renewd.deb",
             bind=(package, "/tmp/renewd.deb"))
    status = in_image("dpkg-query", "-W", "-f", "${Status} ${Version}", "renewd")
    check(status.startswith("install ok installed"), f"apt installed the package: {status}")
    files = in_image("dpkg-query", "-L", "renewd").split()
    for path in ["/usr/bin/renewd", "/usr/lib/systemd/system/renewd.service",
                 "/etc/renewd/renewd.toml"]:
        check(path in files, f"the package owns {path}")
    with open(image_path("/etc/renewd/renewd.toml")) as f, \
            open(os.path.join(REPO, "config", "renewd.example.toml")) as example:
        check(f.read() == example.read(), "/etc/renewd/renewd.toml is the example config")
    # Not enabled by the package: the operator edits the config first.
    check(not os.path.lexists(image_path(
        "/etc/systemd/system/multi-user.target.wants/renewd.service")),
        "the package leaves the service disabled")

    # The test's only changes to the unit: the credential, and a short watchdog to see it petted.
    put("/etc/systemd/system/renewd.service.d/test.conf",
        "[Service]\nLoadCredential=codearts-token:/etc/renewd/credentials/codearts-token\n"
        "LoadCredential=ops-hook-url:/etc/renewd/credentials/ops-hook-url\n"
        "WatchdogSec=10s\n", 0o644)
    put("/etc/renewd/credentials/codearts-token", TOKEN + "\n", 0o600)
    put("/etc/renewd/credentials/ops-hook-url", f"http://127.0.0.1:{hook_port}/hook\n", 0o600)
    put("/etc/renewd/renewd.toml", config(cloud_port, http_port), 0o644)
    in_image("systemctl", "enable", "renewd")


def purge():
    """`apt-get purge` with the container stopped: the config and the state go too."""
    in_image("apt-get", "purge", "-y", "-q", "renewd")
    for path in ["/usr/bin/renewd", "/etc/renewd/renewd.toml", "/var/lib/private/renewd",
                 "/var/lib/renewd", "/etc/systemd/system/multi-user.target.wants/renewd.service"]:
        check(not os.path.lexists(image_path(path)), f"after apt-get purge, no {path}")


def config(cloud_port, http_port, schedule="*/2 * * * * *"):
    """The config as an operator would write it: no secret in it (the token and the webhook
    URL are credentials), so it may stay readable by the service's transient user."""
    return f"""[daemon]
schedule = "{schedule}"
timeout = "5s"

[http]
listen = "127.0.0.1:{http_port}"

[[accounts]]
name = "prod"
region = "cn-north-4"
endpoint = "http://127.0.0.1:{cloud_port}"
projects = ["{PROJECT}"]
auth = {{ method = "token", token_file = "codearts-token" }}

[[rules]]
name = "default"
thresholds = [30, 14, 7, 3, 1, 0]
receivers = ["ops"]

[receivers.ops]
type = "webhook"
format = "json"
url_file = "ops-hook-url"
"""


class Container:
    def __init__(self):
        self.process = subprocess.Popen(
            ["systemd-nspawn", "-D", ROOT, "--register=no", "--keep-unit", "--quiet",
             "--console=passive", "--machine", MACHINE, "-b"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.leader = None
        deadline = time.time() + 60
        while time.time() < deadline and self.process.poll() is None:
            self.leader = self.find_leader()
            if self.leader and self.run("systemctl", "is-system-running").stdout.strip() in (
                    "running", "degraded"):
                return
            time.sleep(0.5)
        code = self.process.poll()
        self.process.kill()
        self.process.wait()
        fail(f"the container did not boot (nspawn exit {code})")

    def find_leader(self):
        """The container's init: the process named systemd among nspawn's descendants."""
        children = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append((int(pid), comm))
        todo = [self.process.pid]
        while todo:
            for pid, comm in children.get(todo.pop(), []):
                if comm == "systemd":
                    return pid
                todo.append(pid)
        return None

    def run(self, *command, check_rc=False):
        result = subprocess.run(
            ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "--", *command],
            capture_output=True, text=True, timeout=60)
        if check_rc and result.returncode != 0:
            journal = self.run("journalctl", "-b", "--no-pager", "-n", "30").stdout
            fail(f"{' '.join(command)} exited {result.returncode}: {result.stdout}{result.stderr}"
                 f"\n{journal}")
        return result

    def show(self, *properties):
        out = self.run("systemctl", "show", "renewd", *[f"-p{p}" for p in properties],
                       check_rc=True).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self):
        out = self.run("journalctl", "-b", "-u", "renewd", "-o", "json", "--no-pager",
                       check_rc=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def events(self, name):
        return [e for e in self.journal() if e.get("F_EVENT") == name]

    def wait_for(self, what, predicate, limit=30):
        deadline = time.time() + limit
        while time.time() < deadline:
            if predicate():
                log(f"ok: {what}")
                return
            time.sleep(0.5)
        fail(f"{what} (waited {limit} s)\n" + self.run(
            "journalctl", "-b", "-u", "renewd", "--no-pager", "-n", "40").stdout)

    def stop(self):
        if self.leader:
            self.run("systemctl", "poweroff")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    package = os.path.abspath(sys.argv[1])
    if not package.endswith(".deb") or not os.path.isfile(package):
        sys.exit(f"not a .deb file: {package}\n\n{__doc__}")
    ensure_root()

    cloud = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "bench", "fake_codearts.py"), TOKEN,
         os.path.join(REPO, "tests", "fixtures", "codearts", "package_info_example.json")],
        stdout=subprocess.PIPE, text=True)
    cloud_port = int(cloud.stdout.readline())
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    http_port = free_port()
    container = None
    try:
        install(package, cloud_port, hook.server_address[1], http_port)
        container = Container()
        scenario(container, cloud_port, http_port)
    finally:
        if container:
            container.stop()
        cloud.kill()
        hook.shutdown()
    purge()
    log("all checks hold")


def scenario(c, cloud_port, http_port):
    unit = c.show("FragmentPath", "DropInPaths", "UnitFileState")
    # /lib is /usr/lib on a merged-/usr system, and systemd may name it either way.
    check(unit["FragmentPath"] in ("/usr/lib/systemd/system/renewd.service",
                                   "/lib/systemd/system/renewd.service")
          and unit["UnitFileState"] == "enabled",
          f"systemd runs the packaged unit, enabled by systemctl enable: {unit}")
    # Type=notify: `active` only once READY=1 came.
    c.wait_for("the service is active (READY=1 reached systemd)",
               lambda: c.run("systemctl", "is-active", "renewd").stdout.strip() == "active")
    active_at = time.monotonic()
    c.wait_for("three cycles finished", lambda: len(c.events("cycle.finished")) >= 3)
    check(len(Hook.bodies) == 1, f"one webhook delivery over three cycles (got {len(Hook.bodies)})")
    check(len(Hook.bodies[0]["alerts"]) == 2, "the digest carries both packages")

    props = c.show("StatusText", "NRestarts", "User", "DynamicUser")
    check("cycle" in props["StatusText"].lower(),
          f"STATUS= shows the last cycle: {props['StatusText']!r}")
    check(props["NRestarts"] == "0", "no restarts")

    journal = c.journal()
    check(all(e.get("SYSLOG_IDENTIFIER") == "renewd" for e in journal if "F_EVENT" in e),
          "journal entries carry SYSLOG_IDENTIFIER=renewd")
    started = [e for e in journal if e.get("F_EVENT") == "daemon.started"]
    check(len(started) == 1 and started[0]["PRIORITY"] == "5", "daemon.started at priority 5")
    raised = [e for e in journal if e.get("F_EVENT") == "alert.raised"]
    check(len(raised) == 2 and all(e["F_REMAIN_DAYS"] == "11" for e in raised),
          "alert.raised entries carry F_REMAIN_DAYS")
    check(all(TOKEN not in json.dumps(e) for e in journal), "the token never reaches the journal")
    check(not any(e.get("F_EVENT") == "config.secrets_exposed" for e in journal),
          "a config with its secrets in credentials raises no exposure warning")

    state = c.run("stat", "-c", "%a %U", "/var/lib/private/renewd/state.db", check_rc=True)
    check(state.stdout.split()[0] == "600", f"state file is private: {state.stdout.strip()}")
    status = c.run("renewd", "status", "--json", "--config", "/etc/renewd/renewd.toml")
    if status.returncode != 0:
        fail(f"`renewd status` exited {status.returncode}: {status.stdout}{status.stderr}")
    check(len(json.loads(status.stdout)["packages"]) == 2,
          "`renewd status` as root reads the service's state beside it")

    main_pid = c.show("MainPID")["MainPID"]
    once = c.run("renewd", "once", "--config", "/etc/renewd/renewd.toml")
    check(once.returncode == 1 and f"in use by another renewd process (pid {main_pid})" in once.stderr,
          f"`renewd once` beside the service is refused, naming it: {once.stderr.strip()[-200:]!r}")

    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as r:
        metrics = r.read().decode()
    # 11 days left: the end of the billing day (23:59:59 GMT+08:00) 11 days after the poll day.
    gmt8 = datetime.timezone(datetime.timedelta(hours=8))
    def expiry(at):
        last_day = at.astimezone(gmt8).date() + datetime.timedelta(days=11)
        return int(datetime.datetime.combine(last_day, datetime.time(23, 59, 59), gmt8).timestamp())
    now = datetime.datetime.now(datetime.timezone.utc)
    series = (f'renewd_package_expiry_timestamp_seconds{{account="prod",project_id="{PROJECT}",'
              f'package="codeartsStorageExtension",resource_id="7590809a5c9d42ae92b49b1190e94666",'
              f'source="packages"}}')
    shown = [line.split()[-1] for line in metrics.splitlines() if line.startswith(series + " ")]
    check(len(shown) == 1 and int(shown[0]) in {expiry(now), expiry(now - datetime.timedelta(minutes=10))},
          f"/metrics shows the expiry timestamp: {shown}")

    # A watchdog of 10 s (petted every 5 s): past it, the loop must still have been petting it.
    time.sleep(max(0.0, 12 - (time.monotonic() - active_at)))
    check(c.show("NRestarts")["NRestarts"] == "0", "the watchdog (10 s) never fired")

    # Reload with a broken config: rejected, the old one stays, still active.
    path = os.path.join(ROOT, "etc/renewd/renewd.toml")
    with open(path, "w") as f:
        f.write(config(cloud_port, http_port) + "\n[nonsense]\n")
    c.run("systemctl", "reload", "renewd", check_rc=True)
    c.wait_for("an invalid config is rejected", lambda: len(c.events("config.rejected")) == 1)
    check(c.run("systemctl", "is-active", "renewd").stdout.strip() == "active",
          "still active after a rejected reload")
    # And with a valid one.
    with open(path, "w") as f:
        f.write(config(cloud_port, http_port, schedule="*/3 * * * * *"))
    c.run("systemctl", "reload", "renewd", check_rc=True)
    c.wait_for("a valid config is applied", lambda: len(c.events("config.reloaded")) == 1)

    c.run("systemctl", "stop", "renewd", check_rc=True)
    props = c.show("Result", "ExecMainStatus", "ActiveState")
    check(props["Result"] == "success" and props["ExecMainStatus"] == "0",
          f"SIGTERM: a clean stop with exit 0 ({props})")
    check(len(Hook.bodies) == 1, "still exactly one delivery")

    # An operator's `renewd once` as root while the service is stopped, with no lock file yet
    # (as after an upgrade): the service must still start afterwards.
    c.run("rm", "-f", "/var/lib/private/renewd/state.db.lock", check_rc=True)
    # As docs/service.md says: credentials from where the operator keeps them.
    once = c.run("env", "CREDENTIALS_DIRECTORY=/etc/renewd/credentials",
                 "renewd", "once", "--config", "/etc/renewd/renewd.toml")
    if once.returncode != 0:
        fail(f"`renewd once` as root with the service stopped exited {once.returncode}: "
             f"{once.stderr}")
    owners = c.run("stat", "-c", "%u:%g", "/var/lib/private/renewd/state.db",
                   "/var/lib/private/renewd/state.db.lock", check_rc=True).stdout.split()
    check(owners[0] == owners[1], f"the lock file root made belongs to the state's owner {owners}")
    c.run("systemctl", "start", "renewd", check_rc=True)
    check(c.run("systemctl", "is-active", "renewd").stdout.strip() == "active",
          "the service starts again after root's `once`")
    check(len(Hook.bodies) == 1, "and still exactly one delivery")


if __name__ == "__main__":
    main()
