"""Ed25519 verification of one event's canonical body: OpenSSL (cryptography) vs libsodium (PyNaCl).

    python bench/verify.py [--events 2000]

Signature checks dominate the hub's ingest cost per event; this measures the two libraries on the same
signed events in the same run (best of 5 rounds). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest import make_events  # noqa: E402 - bench/ingest.py: signed, chained events

from hadir.contract import parse_event  # noqa: E402


def best_of(rounds: int, fn, items) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for item in items:
            fn(*item)
        best = min(best, time.perf_counter() - started)
    return best / len(items) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=2000)
    args = ap.parse_args()
    keys, events = make_events(1, args.events)
    from hadir.signing import public_key_from_b64

    pub = public_key_from_b64(next(iter(keys.values())))
    raw = pub.public_bytes_raw()
    parsed = [parse_event(name, payload) for _, name, payload in events]
    items = [(base64.b64decode(e.sig), e.canonical_body()) for e in parsed]
    openssl = best_of(5, lambda sig, body: pub.verify(sig, body), items)
    result = {"events": args.events, "us_per_verify_cryptography": round(openssl, 1)}
    print(f"cryptography (OpenSSL): {openssl:.1f} us per verification")
    try:
        from nacl.bindings import crypto_sign_open
    except ImportError:
        print("PyNaCl not installed (pip install 'hadir[hub]')")
    else:
        sodium = best_of(5, lambda sig, body: crypto_sign_open(sig + body, raw), items)
        print(f"PyNaCl (libsodium):     {sodium:.1f} us per verification; {openssl / sodium:.2f}x faster")
        result.update(us_per_verify_pynacl=round(sodium, 1), speedup=round(openssl / sodium, 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
