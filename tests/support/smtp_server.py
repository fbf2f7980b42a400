"""A real SMTP server for renewd's tests (aiosmtpd), driven by tests/support/smtp_server.rs.

Two uses:

  python3 smtp_server.py ensure-venv VENV_DIR
      Creates a virtual environment with aiosmtpd in VENV_DIR, once: a file lock serialises
      concurrent test processes and a marker file says the venv is complete. Runs with the
      system python (needs only the standard library).

  VENV_DIR/bin/python smtp_server.py serve --port N --maildir DIR --mode starttls|tls|plain
                                       [--cert PEM --key PEM] [--user U --password P]
      Listens on 127.0.0.1:N (0 = any free port), prints "READY <port>" once listening, and
      saves each accepted message as DIR/<seq>.json: {"mail_from", "rcpt_tos", "peer_port",
      "data_b64"}.
      `starttls` requires STARTTLS before MAIL/AUTH; `tls` is implicit TLS from the first byte.
      With --user, AUTH (LOGIN, PLAIN) is required.
      With --fault-rate R (0 to 1), a share R of messages is refused on purpose: a 450 to RCPT,
      a 451 to DATA, the connection dropped at DATA, or DATA held for --stall-secs and then
      refused (a sender with a shorter timeout has given up by then). Choices follow
      --fault-seed. A refused message is never saved; each saved one has "accepted_ns", the
      machine's monotonic clock when it was accepted. Refusals are counted in DIR/../faults.json.
"""

import argparse
import base64
import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
import venv

AIOSMTPD = "aiosmtpd==1.4.6"
MARKER = ".renewd-test-venv-ready"


def ensure_venv(venv_dir):
    marker = os.path.join(venv_dir, MARKER)
    if os.path.exists(marker):
        return
    os.makedirs(os.path.dirname(os.path.abspath(venv_dir)), exist_ok=True)
    with open(venv_dir.rstrip("/") + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(marker):
            return
        # A half-made venv (an interrupted earlier run) is replaced whole.
        shutil.rmtree(venv_dir, ignore_errors=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
        python = os.path.join(venv_dir, "bin", "python")
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", AIOSMTPD],
            check=True,
        )
        with open(marker, "w") as f:
            f.write(AIOSMTPD + "\n")


def serve(args):
    import asyncio
    import ssl
    import time

    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    class SaveToDir:
        def __init__(self, maildir):
            self.maildir = maildir
            self.seq = len([n for n in os.listdir(maildir) if n.endswith(".json")])
            self.rng = random.Random(args.fault_seed)
            self.faults = {}

        def choose_fault(self):
            """The fault to play on one message, or None."""
            if args.fault_rate <= 0 or self.rng.random() >= args.fault_rate:
                return None
            return self.rng.choice(["450-rcpt", "451-data", "drop-data", "stall-data"])

        def count(self, fault):
            self.faults[fault] = self.faults.get(fault, 0) + 1
            path = os.path.join(os.path.dirname(self.maildir), "faults.json")
            with open(path + ".tmp", "w") as f:
                json.dump(self.faults, f)
            os.rename(path + ".tmp", path)

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            envelope.renewd_fault = self.choose_fault()
            if envelope.renewd_fault == "450-rcpt":
                self.count(envelope.renewd_fault)
                return "450 4.2.1 Mailbox busy, try again later"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            fault = getattr(envelope, "renewd_fault", None)
            if fault:
                self.count(fault)
            if fault == "451-data":
                return "451 4.3.0 Temporary failure, try again later"
            if fault == "drop-data":
                server.transport.abort()
                return "421 4.3.0 Closing"
            if fault == "stall-data":
                await asyncio.sleep(args.stall_secs)
                return "451 4.4.2 Took too long"
            self.seq += 1
            name = "%06d-%d" % (self.seq, os.getpid())
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                # The client's port tells whether connections were reused.
                "peer_port": session.peer[1] if session.peer else None,
                "data_b64": base64.b64encode(envelope.original_content or envelope.content).decode(),
                "accepted_ns": time.monotonic_ns(),
            }
            tmp = os.path.join(self.maildir, name + ".tmp")
            with open(tmp, "w") as f:
                json.dump(record, f)
            # Renamed only when complete: the reader never sees half a message.
            os.rename(tmp, os.path.join(self.maildir, name + ".json"))
            return "250 2.0.0 Ok: queued as %s" % name

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == args.user.encode()
            and auth_data.password == args.password.encode()
        )
        # handled=False lets aiosmtpd send the 235/535 reply itself; True would hang a failed login.
        return AuthResult(success=ok, handled=False)

    tls_context = None
    if args.mode in ("starttls", "tls"):
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.cert, args.key)

    handler = SaveToDir(args.maildir)

    def factory():
        return SMTP(
            handler,
            hostname="renewd-test-smtp",
            tls_context=tls_context if args.mode == "starttls" else None,
            require_starttls=args.mode == "starttls",
            # With implicit TLS the whole connection is already encrypted.
            auth_require_tls=args.mode == "starttls",
            auth_required=args.user is not None,
            authenticator=authenticator if args.user is not None else None,
        )

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory,
            host="127.0.0.1",
            port=args.port,
            ssl=tls_context if args.mode == "tls" else None,
            reuse_address=True,
        )
        port = server.sockets[0].getsockname()[1]
        print("READY %d" % port, flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("ensure-venv")
    e.add_argument("venv_dir")
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--maildir", required=True)
    s.add_argument("--mode", choices=["starttls", "tls", "plain"], default="starttls")
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--user")
    s.add_argument("--password", default="")
    s.add_argument("--fault-rate", type=float, default=0.0)
    s.add_argument("--fault-seed", type=int, default=0)
    s.add_argument("--stall-secs", type=float, default=20.0)
    args = parser.parse_args()
    if args.command == "ensure-venv":
        ensure_venv(args.venv_dir)
    else:
        serve(args)


if __name__ == "__main__":
    sys.exit(main())
