#!/usr/bin/env python3
"""Measures a release `renewd run`: time from exec to READY=1, and resident memory once idle after
three cycles against a fake CodeArts endpoint. Prints `name value` lines. Used by bench/run.

Usage: harness.py RENEWD_BINARY REPO_DIR
"""
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BINARY, REPO = sys.argv[1], sys.argv[2]
TOKEN = "bench-token"
PROJECT = "666666af0f00445f85dec483fbc97c78"
READY_RUNS = 7


def config(endpoint, state_path):
    return f"""
[daemon]
schedule = "*/2 * * * * *"
timezone = "Europe/Berlin"
state_path = "{state_path}"

[log]
format = "json"

[[accounts]]
name = "bench"
endpoint = "{endpoint}"
projects = ["{PROJECT}"]
auth = {{ method = "token", token = "{TOKEN}" }}

[[rules]]
name = "default"
thresholds = [30, 14, 7, 3, 1, 0]
receivers = ["journal"]

[receivers.journal]
type = "log"
"""


def start(config_path, notify_path, stderr):
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    env.pop("WATCHDOG_USEC", None)
    return subprocess.Popen(
        [BINARY, "run", "--config", config_path],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def wait_ready(sock, deadline_s=10.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        ready, _, _ = select.select([sock], [], [], 0.5)
        if ready and b"READY=1" in sock.recv(4096).split(b"\n"):
            return time.monotonic()
    raise SystemExit("renewd did not send READY=1")


def stop(proc):
    proc.terminate()
    code = proc.wait(timeout=20)
    if code != 0:
        raise SystemExit(f"renewd exited {code} on SIGTERM")


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} for {pid}")


def main():
    fake = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "bench", "fake_codearts.py"), TOKEN,
         os.path.join(REPO, "tests", "fixtures", "codearts", "package_info_example.json")],
        stdout=subprocess.PIPE,
    )
    try:
        port = int(fake.stdout.readline())
        with tempfile.TemporaryDirectory() as work:
            config_path = os.path.join(work, "renewd.toml")
            with open(config_path, "w") as f:
                f.write(config(f"http://127.0.0.1:{port}", os.path.join(work, "state.db")))
            notify_path = os.path.join(work, "notify.sock")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind(notify_path)

            # Time to READY=1: the median of several starts (the first one creates the state file).
            times = []
            for _ in range(READY_RUNS):
                t0 = time.monotonic()
                proc = start(config_path, notify_path, subprocess.DEVNULL)
                times.append((wait_ready(sock) - t0) * 1000.0)
                stop(proc)
            print(f"ready_ms {statistics.median(times):.1f}")
            print(f"ready_ms_max {max(times):.1f}")

            # Idle RSS after three cycles: wait for the third cycle.finished, then sample between ticks.
            log_path = os.path.join(work, "renewd.log")
            with open(log_path, "w") as log:
                proc = start(config_path, notify_path, log)
                wait_ready(sock)
                end = time.monotonic() + 30
                while True:
                    with open(log_path) as f:
                        events = [json.loads(l).get("event") for l in f if l.strip()]
                    if events.count("cycle.finished") >= 3:
                        break
                    if time.monotonic() > end:
                        raise SystemExit(f"no three cycles within 30 s: {events}")
                    time.sleep(0.05)
                time.sleep(0.8)
                print(f"idle_rss_kib {rss_kib(proc.pid)}")
                # What the RSS is made of: memory of this process alone, and clean pages of the
                # mapped binary and libraries (shared with the page cache).
                print(f"idle_rss_anon_kib {rss_kib(proc.pid, 'RssAnon')}")
                print(f"idle_rss_file_kib {rss_kib(proc.pid, 'RssFile')}")
                print(f"peak_rss_kib {rss_kib(proc.pid, 'VmHWM')}")
                stop(proc)
    finally:
        fake.kill()


main()
