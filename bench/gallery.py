"""1:N search time over a large gallery: the vectorised search against a per-template Python loop.

    python bench/gallery.py [--templates 100000] [--per-person 3] [--queries 200]

Random unit vectors stand in for templates (search cost does not depend on the values). The last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.infer.embed import normalise  # noqa: E402
from edge.infer.gallery import Gallery  # noqa: E402


def naive_search(ids: list[str], templates: np.ndarray, query: np.ndarray) -> tuple[str, float]:
    best: dict[str, float] = {}
    for name, t in zip(ids, templates, strict=True):
        s = float(t @ query)
        if s > best.get(name, -2.0):
            best[name] = s
    name = max(best, key=best.__getitem__)
    return name, best[name]


def main() -> None:
    ap = argparse.ArgumentParser(description="Gallery search time.")
    ap.add_argument("--templates", type=int, default=100_000)
    ap.add_argument("--per-person", type=int, default=3)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(5)
    templates = normalise(rng.normal(size=(args.templates, args.dim)).astype(np.float32))
    ids = [f"{198000000000000000 + i // args.per_person}" for i in range(args.templates)]
    started = time.perf_counter()
    gallery = Gallery("dlib_resnet_v1", 1, ids, templates)
    build_ms = (time.perf_counter() - started) * 1000
    queries = normalise(rng.normal(size=(args.queries, args.dim)).astype(np.float32))
    started = time.perf_counter()
    for q in queries:
        gallery.search(q, "dlib_resnet_v1")
    fast_ms = (time.perf_counter() - started) * 1000 / args.queries
    n_naive = max(3, args.queries // 50)
    started = time.perf_counter()
    for q in queries[:n_naive]:
        naive_search(ids, templates, q)
    naive_ms = (time.perf_counter() - started) * 1000 / n_naive
    m = gallery.search(queries[0], "dlib_resnet_v1")
    assert naive_search(ids, templates, queries[0])[0] == m.employee_id  # same answer
    print(f"{args.templates:,} templates of {len(set(ids)):,} people, dim {args.dim}: vectorised search "
          f"{fast_ms:.2f} ms per query (numpy BLAS), per-template Python loop {naive_ms:.0f} ms "
          f"({naive_ms / fast_ms:.0f}x slower); gallery build {build_ms:.0f} ms")
    print(json.dumps({"templates": args.templates, "people": len(set(ids)), "dim": args.dim,
                      "ms_per_query": fast_ms, "naive_ms_per_query": naive_ms, "speedup": naive_ms / fast_ms,
                      "build_ms": build_ms}))


if __name__ == "__main__":
    main()
