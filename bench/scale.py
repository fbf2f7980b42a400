#!/usr/bin/env python3
"""Scale benchmarks of `renewd once` against the loopback stand-in (bench/standin.py), measured
from outside: wall time, and user+sys CPU and peak RSS from wait4(2). Prints `name value` lines.

Usage: scale.py RENEWD_BINARY REPO_DIR [SDK_PYTHON]
  SDK_PYTHON: a python with Huawei's official huaweicloudsdkcodeartsartifact installed; without
  it the SDK comparison is left out (bench/run makes one in target/bench-venv).

Figures:
  cycle_wall_s, cycle_to_bound_ratio  N=10,000 projects, 50 ms a request, concurrency 64:
                 wall / (N x latency / concurrency)
  cpu_us_per_project      renewd's CPU per project in that run (token auth)
  peak_rss_mib            its peak resident memory
  standin_cpu_s           the stand-in's own CPU in that run (it must not be the bottleneck)
  cpu_us_per_project_aksk N=1,000 with AK/SK signatures, checked by the stand-in
  sdk_cpu_us_per_project  the same 1,000 requests by a loop over the official Python SDK
  sdk_cpu_ratio           the SDK's CPU per project / renewd's (AK/SK)
  rate_limit_target_rps, rate_limit_achieved_rps, rate_limit_error_pct
                          max_requests_per_second = 100, 2,000 projects, no latency
  throttled_429s, throttled_projects_lost
                          a stand-in answering 429 (Retry-After: 1) above 50 requests/s
  subscriptions_cycle_ms, subscriptions_cpu_ms, subscriptions_requests, subscriptions_items
                          one account's billing subscriptions: 10,000 resources, 300 expiring
                          within the rules' window (bench/billing_standin.py); one `renewd once`
"""
import json
import os
import subprocess
import sys
import tempfile
import time

BINARY, REPO = sys.argv[1], sys.argv[2]
SDK_PYTHON = sys.argv[3] if len(sys.argv) > 3 else None
TOKEN = "bench-token"
AK = "HPUABENCHAK000000001"
SK = "BenchSecretKey0123456789abcdefghijklmnop"


def project_ids(n):
    return [f"{i + 1:032x}" for i in range(n)]


def config(endpoint, state_path, n, auth, concurrency=64, rate=100_000):
    projects = ",\n  ".join(f'"{p}"' for p in project_ids(n))
    return f"""
[daemon]
state_path = "{state_path}"
concurrency = {concurrency}
timeout = "30s"

[log]
format = "json"
level = "info"

[[accounts]]
name = "bench"
endpoint = "{endpoint}"
max_requests_per_second = {rate}
auth = {auth}
projects = [
  {projects}
]

[[rules]]
name = "default"
thresholds = [30, 14, 7, 3, 1, 0]
receivers = ["journal"]

[receivers.journal]
type = "log"
"""


class Standin:
    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(REPO, "bench", "standin.py"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"

    def finish(self):
        self.proc.stdin.close()
        stats = json.loads(self.proc.stdout.readline())
        self.proc.wait(timeout=30)
        return stats


def once(config_text, work):
    """Runs `renewd once` with this config; returns (wall_s, cpu_s, maxrss_kib, exit code)."""
    path = os.path.join(work, "renewd.toml")
    with open(path, "w") as f:
        f.write(config_text)
    os.chmod(path, 0o600)
    with open(os.path.join(work, "renewd.log"), "w") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen([BINARY, "once", "--config", path],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode


def events(work, name):
    with open(os.path.join(work, "renewd.log")) as f:
        return [e for e in map(json.loads, filter(str.strip, f)) if e.get("event") == name]


def scale_run():
    n, latency_ms, concurrency = 10_000, 50, 64
    standin = Standin("--latency-ms", str(latency_ms), "--token", TOKEN)
    with tempfile.TemporaryDirectory() as work:
        text = config(standin.url, os.path.join(work, "state.db"), n,
                      f'{{ method = "token", token = "{TOKEN}" }}', concurrency)
        wall, cpu, rss, code = once(text, work)
        stats = standin.finish()
        check(code, work, n, stats)
    bound = n * latency_ms / 1000.0 / concurrency
    print(f"cycle_wall_s {wall:.2f}")
    print(f"cycle_to_bound_ratio {wall / bound:.3f}")
    print(f"cpu_us_per_project {cpu / n * 1e6:.0f}")
    print(f"peak_rss_mib {rss / 1024:.1f}")
    print(f"standin_cpu_s {stats['cpu_s']:.2f}")
    print(f"standin_max_in_flight {stats['max_in_flight']}")


def check(code, work, n, stats):
    """A run only counts when every project was polled and the cycle finished."""
    finished = events(work, "cycle.finished")
    if code not in (0, 1) or not finished or finished[-1].get("polls_failed") != 0:
        tail = open(os.path.join(work, "renewd.log")).read()[-3000:]
        raise SystemExit(f"renewd once exited {code}; polls_failed "
                         f"{finished[-1].get('polls_failed') if finished else '?'}:\n{tail}")
    if finished[-1].get("polls") != n:
        raise SystemExit(f"{finished[-1].get('polls')} polls instead of {n}")


def aksk_run():
    """1,000 projects with AK/SK (the stand-in verifies each signature): renewd, then the SDK."""
    n = 1_000
    standin = Standin("--latency-ms", "0", "--aksk", f"{AK}:{SK}")
    with tempfile.TemporaryDirectory() as work:
        text = config(standin.url, os.path.join(work, "state.db"), n,
                      f'{{ method = "aksk", ak = "{AK}", sk = "{SK}" }}')
        _, cpu, _, code = once(text, work)
        stats = standin.finish()
        check(code, work, n, stats)
    renewd_us = cpu / n * 1e6
    print(f"cpu_us_per_project_aksk {renewd_us:.0f}")
    if not SDK_PYTHON:
        return
    standin = Standin("--latency-ms", "0", "--aksk", f"{AK}:{SK}")
    proc = subprocess.Popen(
        [SDK_PYTHON, os.path.join(REPO, "bench", "sdk_loop.py"), standin.url, AK, SK, str(n)],
        stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    stats = standin.finish()
    if os.waitstatus_to_exitcode(status) != 0 or stats["rejected"]:
        raise SystemExit(f"the SDK loop failed ({stats}): {out}")
    sdk_us = (usage.ru_utime + usage.ru_stime) / n * 1e6
    print(f"sdk_cpu_us_per_project {sdk_us:.0f}")
    print(f"sdk_cpu_ratio {sdk_us / renewd_us:.1f}")


def rate_limit_run():
    """max_requests_per_second = 100 over 2,000 projects of one account: the achieved rate."""
    n, limit = 2_000, 100
    standin = Standin("--latency-ms", "0", "--token", TOKEN)
    with tempfile.TemporaryDirectory() as work:
        text = config(standin.url, os.path.join(work, "state.db"), n,
                      f'{{ method = "token", token = "{TOKEN}" }}', rate=limit)
        once(text, work)
        stats = standin.finish()
        check(0, work, n, stats)
    seconds = stats["answered_per_second"]
    achieved = sum(seconds) / len(seconds)
    print(f"rate_limit_target_rps {limit}")
    print(f"rate_limit_achieved_rps {achieved:.1f}")
    print(f"rate_limit_busiest_second {max(seconds)}")
    print(f"rate_limit_error_pct {abs(achieved - limit) / limit * 100:.1f}")


def throttled_run():
    """A gateway that answers 429 above 50 requests/s: every project is still polled."""
    n = 500
    standin = Standin("--latency-ms", "0", "--token", TOKEN, "--throttle-above", "50")
    with tempfile.TemporaryDirectory() as work:
        text = config(standin.url, os.path.join(work, "state.db"), n,
                      f'{{ method = "token", token = "{TOKEN}" }}', rate=1000)
        wall, _, _, code = once(text, work)
        stats = standin.finish()
        finished = events(work, "cycle.finished")[-1]
    print(f"throttled_429s {stats['throttled']}")
    print(f"throttled_projects_lost {finished.get('polls_failed')}")
    print(f"throttled_wall_s {wall:.1f}")


def subscriptions_run():
    """An account's billing subscriptions: 10,000 resources, 300 expiring within the window the
    rules need; a cycle lists the window's pages only (bench/billing_standin.py)."""
    n, in_window = 10_000, 300
    standin = Standin.__new__(Standin)
    standin.proc = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "bench", "billing_standin.py"),
         "--resources", str(n), "--in-window", str(in_window), "--token", TOKEN],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    standin.url = f"http://127.0.0.1:{int(standin.proc.stdout.readline())}"
    with tempfile.TemporaryDirectory() as work:
        text = f"""
[daemon]
state_path = "{os.path.join(work, 'state.db')}"

[log]
format = "json"
level = "info"

[[accounts]]
name = "bench"
region = "cn-north-4"
packages = false
auth = {{ method = "token", token = "{TOKEN}" }}

[accounts.subscriptions]
endpoint = "{standin.url}"

[[rules]]
name = "default"
thresholds = [30, 14, 7, 3, 1, 0]
receivers = ["journal"]

[receivers.journal]
type = "log"
"""
        wall, cpu, rss, code = once(text, work)
        stats = standin.finish()
        check(code, work, 1, stats)
        polled = events(work, "poll.succeeded")
    print(f"subscriptions_cycle_ms {wall * 1000:.0f}")
    print(f"subscriptions_cpu_ms {cpu * 1000:.0f}")
    print(f"subscriptions_requests {stats['requests']}")
    print(f"subscriptions_items {polled[-1].get('packages') if polled else 0}")


if __name__ == "__main__":
    scale_run()
    aksk_run()
    rate_limit_run()
    throttled_run()
    subscriptions_run()
