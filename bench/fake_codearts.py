#!/usr/bin/env python3
"""A minimal CodeArts `package/info` endpoint on 127.0.0.1 for benchmarks: serves the documented
example (two packages at 11 days) to requests carrying the token given on the command line.

Usage: fake_codearts.py TOKEN FIXTURE_JSON   (prints the port it listens on, then serves)
"""
import http.server
import sys

TOKEN, FIXTURE = sys.argv[1], sys.argv[2]
with open(FIXTURE, "rb") as f:
    BODY = f.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if not self.path.startswith("/devreposerver/v5/data/package/info"):
            self.answer(404, b'{"error_code":"APIG.0101","error_msg":"not found"}')
        elif self.headers.get("X-Auth-Token") != TOKEN:
            self.answer(401, b'{"error_code":"APIG.0301","error_msg":"bad token"}')
        else:
            self.answer(200, BODY)

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
