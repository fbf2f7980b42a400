#!/usr/bin/env python3
"""An independent re-implementation of the official Huawei Cloud SDK signer (huaweicloudsdkcore,
`signer/signer.py`, SDK-HMAC-SHA256), standard library only, to check renewd's signer against.

It takes the request's final headers (after the SDK's own additions of Host, X-Sdk-Date and, for
a non-JSON Content-Type, X-Sdk-Content-Sha256: those are the caller's job in renewd too) and
follows the SDK's rules:
- path: the whole path is percent-decoded first, then split at "/" and each segment encoded
  with quote(safe="~") (RFC 3986 unreserved stay literal); a "/" is appended when missing;
- query: (key, value) pairs sorted, both encoded like path segments, joined "k=v" with "&";
- headers: every header whose name has no "_" is signed; names lowercased and sorted, values
  stripped, one "name:value" line each, then an empty line;
- payload: the empty hash for an empty body; else the X-Sdk-Content-Sha256 header's value
  when it has one, else the hex SHA-256 of the body.

Usage:
  signer_reference.py vectors [vectors.json]   check against the SDK-made vectors
  signer_reference.py compare                  JSON lines on stdin ({"case", "ak", "sk",
                                               "rust"}, see tests/fuzz_corpus.rs); prints the
                                               cases that differ, exits 1 if any does
"""

import hashlib
import hmac
import json
import sys
from pathlib import Path
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
CONTENT_HEADER = "x-sdk-content-sha256"
DATE_HEADER = "x-sdk-date"


def encode(text):
    return quote(text, safe="~")


def canonical_uri(path):
    uri = "/".join(encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs):
    return "&".join("%s=%s" % (encode(k), encode(v)) for k, v in sorted(pairs))


def header(headers, name):
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def sign(method, path, query, headers, body, ak, sk):
    """headers: [(name, value)] in the order set; body: bytes. Returns the SDK's results."""
    signed = sorted(name.lower() for name, _ in headers if "_" not in name)
    values = {}
    for name, value in headers:
        values[name.lower()] = str(value).strip()
    canonical_headers = "".join("%s:%s\n" % (name, values[name]) for name in signed)
    if not body:
        payload = EMPTY_HASH
    else:
        declared = values.get(CONTENT_HEADER)
        payload = declared if declared else hashlib.sha256(body).hexdigest()
    signed_headers = ";".join(signed)
    canonical_request = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers,
            signed_headers,
            payload,
        ]
    )
    date = header(headers, DATE_HEADER)
    string_to_sign = "%s\n%s\n%s" % (
        ALGORITHM,
        date,
        hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
    )
    signature = hmac.new(
        sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return {
        "canonical_request": canonical_request,
        "signed_headers": signed_headers,
        "string_to_sign": string_to_sign,
        "authorization": "%s Access=%s, SignedHeaders=%s, Signature=%s"
        % (ALGORITHM, ak, signed_headers, signature),
    }


def check_vectors(path):
    vectors = json.loads(Path(path).read_text())["vectors"]
    bad = 0
    for v in vectors:
        got = sign(
            v["method"],
            v["path"],
            [tuple(pair) for pair in v["query"]],
            list(v["headers"].items()),
            v["body"].encode("utf-8"),
            v["ak"],
            v["sk"],
        )
        for field in ("canonical_request", "signed_headers", "string_to_sign", "authorization"):
            if got[field] != v[field]:
                bad += 1
                print("%s: %s differs:\n  ours:   %r\n  vector: %r" % (v["name"], field, got[field], v[field]))
    print("%d vectors, %d fields differ" % (len(vectors), bad))
    return bad == 0


def compare(lines):
    total = differ = 0
    for line in lines:
        if not line.strip():
            continue
        item = json.loads(line)
        case = item["case"]
        total += 1
        want = sign(
            case["method"],
            case["path"],
            [tuple(pair) for pair in case["query"]],
            [tuple(pair) for pair in case["headers"]],
            bytes.fromhex(case["body_hex"]),
            item["ak"],
            item["sk"],
        )
        fields = [f for f in want if want[f] != item["rust"][f]]
        if fields:
            differ += 1
            print("%s: %s differ" % (item.get("name", total), ", ".join(fields)))
            print("  case:      %s" % json.dumps(case, ensure_ascii=False))
            for f in fields:
                print("  %s\n    sdk:  %r\n    rust: %r" % (f, want[f], item["rust"][f]))
    if differ:
        print("%d of %d cases differ" % (differ, total))
        return False
    print("%d cases agree" % total)
    return True


def main(argv):
    if len(argv) >= 2 and argv[1] == "vectors":
        default = Path(__file__).resolve().parent.parent / "tests/fixtures/signing/vectors.json"
        return 0 if check_vectors(argv[2] if len(argv) > 2 else default) else 1
    if len(argv) == 2 and argv[1] == "compare":
        return 0 if compare(sys.stdin) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
