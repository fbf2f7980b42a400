#!/usr/bin/env python3
"""A loopback stand-in of Huawei's billing API for bench/scale.py: `POST
/v2/orders/suscriptions/resources/query` (the spelling is Huawei's) over N yearly/monthly
resources, of which W expire within the next weeks and the rest in many months. It filters by
`expire_time_end`, `resource_ids`, `offset` and `limit` as the API does, checks `X-Auth-Token`,
and answers in the documented shape (tests/fixtures/billing/resources_query_page.json).

Usage: billing_standin.py --resources N --in-window W --token T
Prints its port, serves until stdin closes, then prints its statistics as one JSON line.
"""
import argparse
import asyncio
import datetime
import json
import resource
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin  # noqa: E402  (the HTTP loop is shared)

PATH = "/v2/orders/suscriptions/resources/query"


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_resources(n, in_window):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    out = []
    for i in range(n):
        # The first `in_window` expire within 1..29 days, the others in 200..399 days.
        days = 1 + i % 29 if i < in_window else 200 + i % 200
        expire = (now + datetime.timedelta(days=days)).replace(hour=15, minute=59, second=59)
        out.append({
            "id": f"CS24{i:012d}",
            "resource_id": f"{i:08x}-6f1b-4f5e-9c1a-2b7c1f0e9a11",
            "resource_name": f"web-{i:05d}",
            "region_code": "cn-north-4",
            "service_type_code": "hws.service.type.ec2",
            "service_type_name": "Elastic Cloud Server",
            "resource_type_code": "hws.resource.type.vm",
            "resource_type_name": "Cloud Server",
            "resource_spec_code": "c7.large.2.linux",
            "project_id": "0123456789abcdef0123456789abcdef",
            "product_id": "00301-712004-0--0",
            "parent_resource_id": None,
            "is_main_resource": 1,
            "status": 2,
            "effective_time": iso(expire - datetime.timedelta(days=365)),
            "expire_time": iso(expire),
            # No auto-renewal: the funds check (prices, balance) is not part of this figure.
            "expire_policy": 0,
            "product_spec_desc": "General computing-plus | c7.large.2 | 2vCPUs | 4GiB",
            "spec_size": None,
            "spec_size_measure_id": None,
            "update_time": iso(now),
            "enterprise_project": {"id": "0", "name": "default"},
        })
    return out


class Standin:
    def __init__(self, args):
        self.token = args.token
        self.resources = make_resources(args.resources, args.in_window)
        self.by_id = {r["resource_id"]: r for r in self.resources}
        self.requests = 0
        self.rejected = 0

    # The HTTP/1.1 loop of the CodeArts stand-in, with this API's answers.
    handle = standin.Standin.handle

    async def answer(self, method, target, headers, body):
        self.requests += 1
        if method != "POST" or target.partition("?")[0] != PATH:
            return "404 Not Found", b'{"error_code":"APIG.0101","error_msg":"not found"}', ""
        if headers.get("x-auth-token") != self.token:
            self.rejected += 1
            return "401 Unauthorized", b'{"error_code":"APIG.0301","error_msg":"bad credentials"}', ""
        query = json.loads(body or b"{}")
        chosen = self.resources
        if query.get("resource_ids"):
            chosen = [self.by_id[i] for i in query["resource_ids"] if i in self.by_id]
        if query.get("expire_time_end"):
            chosen = [r for r in chosen if r["expire_time"] <= query["expire_time_end"]]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
        page = chosen[offset:offset + limit]
        return "200 OK", json.dumps({"total_count": len(chosen), "data": page}).encode(), ""

    def stats(self):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu_s": usage.ru_utime + usage.ru_stime, "requests": self.requests,
                "rejected": self.rejected}


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--in-window", type=int, default=300)
    parser.add_argument("--token", required=True)
    standin = Standin(parser.parse_args())
    server = await asyncio.start_server(standin.handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()
    print(json.dumps(standin.stats()), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
