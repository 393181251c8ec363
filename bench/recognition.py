"""Recognition accuracy and per-face latency on a folder of labelled photos (one sub-folder per person).

    python bench/recognition.py --dataset ../shared/faces/dev

Prints verification (all pairs), open-set identification (enrol k photos per person, probe with the
rest, hold some people out as unknown), per-visit figures (probes of one person grouped into visits
and combined as the terminal does), and mean latency per face. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.calibrate import OpenSet, Verification, open_set  # noqa: E402
from edge.capture.folder_source import read_rgb  # noqa: E402
from edge.infer.embed import normalise  # noqa: E402
from edge.infer.pipeline import BadImage, FacePipeline  # noqa: E402
from hadir.photo_folders import IMAGE_SUFFIXES  # noqa: E402


def embed_dataset(pipeline: FacePipeline, root: Path) -> tuple[list[str], list[str], np.ndarray, dict]:
    labels, files, vectors = [], [], []
    stats = {"images": 0, "faces_detected": 0, "unreadable": 0, "refused_quality": 0, "ms": []}
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            stats["images"] += 1
            rgb = read_rgb(path)
            if rgb is None:
                stats["unreadable"] += 1
                continue
            started = time.perf_counter()
            try:
                faces = pipeline.analyse(rgb)
            except BadImage:
                stats["unreadable"] += 1
                continue
            stats["ms"].append((time.perf_counter() - started) * 1000)
            if not faces:
                continue
            stats["faces_detected"] += 1
            face = max(faces, key=lambda f: f.detection.size)
            if face.embedding is None:
                stats["refused_quality"] += 1
                continue
            labels.append(person.name)
            files.append(str(path))
            vectors.append(face.embedding)
    matrix = np.stack(vectors) if vectors else np.zeros((0, pipeline.embedder.dim), np.float32)
    return labels, files, matrix, stats


def split_open_set(labels: list[str], k: int, unknown_every: int) -> tuple[list[int], list[int]]:
    """Indices to enrol and to probe. Every `unknown_every`-th person (and anyone with <= k photos) is
    held out entirely, so their photos are non-mated probes."""
    people = sorted(set(labels))
    held_out = {p for i, p in enumerate(people) if unknown_every and i % unknown_every == unknown_every - 1}
    held_out |= {p for p in people if labels.count(p) <= k}
    enrol, probe, seen = [], [], {}
    for i, name in enumerate(labels):
        if name in held_out:
            probe.append(i)
            continue
        seen[name] = seen.get(name, 0) + 1
        (enrol if seen[name] <= k else probe).append(i)
    return enrol, probe


def visits(labels: list[str], idx: list[int], vectors: np.ndarray, size: int) -> tuple[list[str], np.ndarray]:
    """Group each person's probes into visits of `size` photos, combined like a track (mean, normalised)."""
    by_person: dict[str, list[int]] = {}
    for i in idx:
        by_person.setdefault(labels[i], []).append(i)
    ids, combined = [], []
    for name, members in sorted(by_person.items()):
        for start in range(0, len(members), size):
            group = members[start:start + size]
            ids.append(name)
            combined.append(normalise(vectors[group].mean(axis=0)))
    return ids, (np.stack(combined) if combined else np.zeros((0, vectors.shape[1]), np.float32))


def fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4f}"


def clean(x: object) -> object:
    return None if isinstance(x, float) and math.isnan(x) else x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--enrol-k", type=int, default=2, help="photos enrolled per known person")
    ap.add_argument("--unknown-every", type=int, default=4, help="hold out every N-th person as unknown")
    ap.add_argument("--visit-size", type=int, default=2, help="probe photos combined into one simulated visit")
    ap.add_argument("--detector", default="auto", choices=["auto", "short", "full", "both"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--embedder", default="dlib_resnet_v1", choices=["dlib_resnet_v1", "faceres", "mobileface"])
    args = ap.parse_args()
    if not args.dataset.is_dir():
        sys.exit(f"--dataset {args.dataset} is not a folder (expected DIR/<person>/<photos>)")

    pipeline = FacePipeline(detector=args.detector, threads=args.threads, embedder=args.embedder)
    labels, _, vectors, stats = embed_dataset(pipeline, args.dataset)
    ver = Verification.from_embeddings(labels, vectors)
    t1, t01 = ver.threshold_at_far(0.01), ver.threshold_at_far(0.001)
    eer, eer_t = ver.eer()

    enrol, probe = split_open_set(labels, args.enrol_k, args.unknown_every)
    gal_ids = [labels[i] for i in enrol]
    osi = open_set(gal_ids, vectors[enrol], [labels[i] for i in probe], vectors[probe])
    f1, f01 = osi.threshold_at_fpir(0.01), osi.threshold_at_fpir(0.001)
    v_ids, v_vecs = visits(labels, probe, vectors, args.visit_size)
    vis: OpenSet = open_set(gal_ids, vectors[enrol], v_ids, v_vecs)
    accept = pipeline.embedder.default_accept

    ms = float(np.mean(stats["ms"])) if stats["ms"] else float("nan")
    rows = [
        ("images / faces detected / refused by quality", f"{stats['images']} / {stats['faces_detected']} / "
                                                          f"{stats['refused_quality']}"),
        ("people / embedded photos", f"{len(set(labels))} / {len(labels)}"),
        ("verification pairs genuine / impostor", f"{len(ver.genuine)} / {len(ver.impostor)}"),
        ("AUC", fmt(ver.auc())),
        ("EER (threshold)", f"{fmt(eer)} ({fmt(eer_t)})"),
        ("TAR at FAR 1 % (threshold)", f"{fmt(ver.tar_at(t1))} ({fmt(t1)})"),
        ("TAR at FAR 0.1 % (threshold)", f"{fmt(ver.tar_at(t01))} ({fmt(t01)})"),
        (f"TAR / FAR at the shipped accept threshold {accept}", f"{fmt(ver.tar_at(accept))} / "
                                                                f"{fmt(ver.far_at(accept))}"),
        ("open set: enrolled people / mated probes / non-mated probes",
         f"{len(set(gal_ids))} / {len(osi.mated_best)} / {len(osi.nonmated_best)}"),
        ("rank-1 (mated probes)", fmt(osi.rank1())),
        ("FNIR at FPIR 1 % (threshold)", f"{fmt(osi.fnir_at(f1))} ({fmt(f1)})"),
        ("FNIR at FPIR 0.1 % (threshold)", f"{fmt(osi.fnir_at(f01))} ({fmt(f01)})"),
        (f"FNIR / FPIR at accept {accept}", f"{fmt(osi.fnir_at(accept))} / {fmt(osi.fpir_at(accept))}"),
        (f"visits of {args.visit_size}: rank-1 / FNIR / FPIR at accept {accept}",
         f"{fmt(vis.rank1())} / {fmt(vis.fnir_at(accept))} / {fmt(vis.fpir_at(accept))}"),
        ("mean latency per image (detect + align + embed), ms", fmt(ms)),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"Recognition benchmark on {args.dataset} (model {pipeline.model_id}, detector {args.detector}, "
          f"{args.threads} thread(s))")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    if len(osi.nonmated_best) < 1000:
        print(f"  note: {len(osi.nonmated_best)} non-mated probes cannot resolve FPIR 0.1 %; "
              "that threshold is the highest non-mated score.")
    summary = {
        "images": stats["images"], "faces_detected": stats["faces_detected"], "embedded": len(labels),
        "people": len(set(labels)), "auc": ver.auc(), "eer": eer, "eer_threshold": eer_t,
        "tar_at_far_1pct": ver.tar_at(t1), "tar_at_far_0_1pct": ver.tar_at(t01), "threshold_far_1pct": t1,
        "threshold_far_0_1pct": t01, "rank1": osi.rank1(), "fnir_at_fpir_1pct": osi.fnir_at(f1),
        "fnir_at_fpir_0_1pct": osi.fnir_at(f01), "threshold_fpir_1pct": f1,
        "mated_probes": int(len(osi.mated_best)), "nonmated_probes": int(len(osi.nonmated_best)),
        "accept_threshold": accept, "fnir_at_accept": osi.fnir_at(accept), "fpir_at_accept": osi.fpir_at(accept),
        "visit_rank1": vis.rank1(), "visit_fnir_at_accept": vis.fnir_at(accept),
        "visit_fpir_at_accept": vis.fpir_at(accept), "ms_per_face": ms, "model": pipeline.model_id,
    }
    print(json.dumps({k: clean(v) for k, v in summary.items()}))


if __name__ == "__main__":
    main()
