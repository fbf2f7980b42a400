#!/usr/bin/env python3
"""A loopback CodeArts `package/info` stand-in for the scale benchmarks, written for throughput:
asyncio, HTTP/1.1 keep-alive, a fixed latency per request, and the gateway's authentication
(the token in `X-Auth-Token`, or an AK/SK signature recomputed and compared, as the gateway
does). Every project answers two packages whose remaining days follow from the project number.

Usage: standin.py --latency-ms MS (--token T | --aksk AK:SK)
                  [--throttle-above RPS]  (answer 429 + Retry-After above this many requests/s)

Prints its port on the first line, then serves until stdin closes; then prints one JSON line
with its own CPU time, the number of requests, the most in flight at once and the requests
counted per second, and exits.
"""
import argparse
import asyncio
import hashlib
import hmac
import json
import resource
import sys
import time
import urllib.parse

PATH = "/devreposerver/v5/data/package/info"
UNRESERVED = "-_.~"


def package_body(project):
    """Two packages, remaining days spread over 0..399 so that every rule stage is exercised."""
    n = int(project, 16) if project else 0
    days = n % 400
    result = {
        "codeartsStorageExtension": {
            "resourceId": f"{n:032x}"[:-1] + "a",
            "serviceType": "hws.resource.type.codearts.extension.storage",
            "packageStatus": 2,
            "remainDays": days,
            "nextActionUrl": "https://account.huaweicloud.com/usercenter/#/userindex/renewalManagement",
        },
        "codeartsDownloadTrafficExtension": {
            "resourceId": f"{n:032x}"[:-1] + "b",
            "serviceType": "hws.resource.type.codearts.extension.download",
            "packageStatus": 2,
            "remainDays": (days + 200) % 400,
            "nextActionUrl": "https://account.huaweicloud.com/usercenter/#/userindex/renewalManagement",
        },
    }
    return json.dumps({"status": "success", "trace_id": "bench", "result": result}).encode()


def rfc3986(s):
    return urllib.parse.quote(s, safe=UNRESERVED)


def canonical_path(path):
    segments = [rfc3986(urllib.parse.unquote(s)) for s in path.split("/")]
    joined = "/".join(segments)
    return joined if joined.endswith("/") else joined + "/"


def canonical_query(query):
    return "&".join(f"{rfc3986(k)}={rfc3986(v)}" for k, v in sorted(query))


def signature_ok(method, path, query, headers, body, keys):
    auth = headers.get("authorization", "")
    if not auth.startswith("SDK-HMAC-SHA256 "):
        return False
    params = dict(p.strip().split("=", 1) for p in auth[len("SDK-HMAC-SHA256 "):].split(","))
    sk = keys.get(params.get("Access"))
    if sk is None:
        return False
    names = params["SignedHeaders"].split(";")
    date = headers.get("x-sdk-date", "")
    canonical_headers = "".join(f"{n}:{headers.get(n, '').strip()}\n" for n in names)
    canonical = "\n".join([
        method, canonical_path(path), canonical_query(query), canonical_headers,
        params["SignedHeaders"], hashlib.sha256(body).hexdigest(),
    ])
    to_sign = f"SDK-HMAC-SHA256\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, params.get("Signature", ""))


class Standin:
    def __init__(self, args):
        self.latency = args.latency_ms / 1000.0
        self.token = args.token
        self.keys = {}
        if args.aksk:
            ak, sk = args.aksk.split(":", 1)
            self.keys[ak] = sk
        self.throttle_above = args.throttle_above
        self.requests = 0
        self.rejected = 0
        self.throttled = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.per_second = {}
        self.answered_at = []
        self.bodies = {}

    def throttle(self, now):
        """True when this request is over the per-second budget of --throttle-above."""
        if not self.throttle_above:
            return False
        second = int(now)
        return self.per_second.get(second, 0) > self.throttle_above

    async def handle(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                status, payload, extra = await self.answer(method, target, headers, body)
                response = (
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n{extra}\r\n"
                ).encode() + payload
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def answer(self, method, target, headers, body):
        now = time.monotonic()
        self.requests += 1
        second = int(now)
        self.per_second[second] = self.per_second.get(second, 0) + 1
        path, _, raw_query = target.partition("?")
        query = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
        if path != PATH:
            return "404 Not Found", b'{"error_code":"APIG.0101","error_msg":"not found"}', ""
        if self.token is not None:
            authenticated = headers.get("x-auth-token") == self.token
        else:
            authenticated = signature_ok(method, path, query, headers, body, self.keys)
        if not authenticated:
            self.rejected += 1
            return "401 Unauthorized", b'{"error_code":"APIG.0301","error_msg":"bad credentials"}', ""
        if self.throttle(now):
            self.throttled += 1
            return ("429 Too Many Requests",
                    b'{"error_code":"APIG.0308","error_msg":"The request is throttled"}',
                    "Retry-After: 1\r\n")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        self.answered_at.append(time.monotonic())
        project = dict(query).get("project_id", "")
        payload = self.bodies.get(project)
        if payload is None:
            payload = self.bodies[project] = package_body(project)
        return "200 OK", payload, ""

    def stats(self):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        # Requests answered per whole second, leaving out the first and last (partial) seconds.
        answered = {}
        for t in self.answered_at:
            answered[int(t)] = answered.get(int(t), 0) + 1
        full = [answered[s] for s in sorted(answered)[1:-1]]
        return {
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "requests": self.requests,
            "rejected": self.rejected,
            "throttled": self.throttled,
            "max_in_flight": self.max_in_flight,
            "answered_per_second": full,
        }


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--token")
    parser.add_argument("--aksk")
    parser.add_argument("--throttle-above", type=int, default=0)
    args = parser.parse_args()
    standin = Standin(args)
    server = await asyncio.start_server(standin.handle, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Serve until the benchmark closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    server.close()
    print(json.dumps(standin.stats()), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
