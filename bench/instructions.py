#!/usr/bin/env python3
"""Instructions per project of `renewd once`, counted by valgrind's callgrind: a figure that does
not move with the machine's load, unlike the CPU times of bench/scale.py, so that two builds can
be compared on a busy 2-core machine. Prints `name value` lines. Used by bench/run when valgrind
is installed.

Usage: instructions.py RENEWD_BINARY REPO_DIR

Figures (the same stand-in and config as bench/scale.py, no latency):
  instructions_per_project       1,000 projects, token auth: every instruction of the process
                                 (start, config, state file, polls, records), divided by 1,000
  instructions_per_project_aksk  200 projects with AK/SK signatures, checked by the stand-in
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.argv = sys.argv[:3]
import scale  # noqa: E402  (the stand-in, config and checks are shared)


def counted(config_text, work):
    """`renewd once` under callgrind; returns the instructions it executed."""
    path = os.path.join(work, "renewd.toml")
    with open(path, "w") as f:
        f.write(config_text)
    os.chmod(path, 0o600)
    with open(os.path.join(work, "renewd.log"), "w") as log:
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
             "--log-file=" + os.path.join(work, "valgrind.log"),
             scale.BINARY, "once", "--config", path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    with open(os.path.join(work, "valgrind.log")) as f:
        found = re.search(r"Collected : (\d+)", f.read())
    if not found:
        raise SystemExit("callgrind reported no instruction count")
    return int(found.group(1)), run.returncode


def measure(name, n, auth, standin_args):
    standin = scale.Standin("--latency-ms", "0", *standin_args)
    with tempfile.TemporaryDirectory() as work:
        text = scale.config(standin.url, os.path.join(work, "state.db"), n, auth)
        instructions, code = counted(text, work)
        stats = standin.finish()
        scale.check(code, work, n, stats)
    print(f"{name} {instructions // n}")


def main():
    measure("instructions_per_project", 1_000,
            f'{{ method = "token", token = "{scale.TOKEN}" }}', ["--token", scale.TOKEN])
    measure("instructions_per_project_aksk", 200,
            f'{{ method = "aksk", ak = "{scale.AK}", sk = "{scale.SK}" }}',
            ["--aksk", f"{scale.AK}:{scale.SK}"])


if __name__ == "__main__":
    main()
