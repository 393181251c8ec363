"""Passive liveness (planarity) as APCER / BPCER (ISO/IEC 30107-3) on generated sequences.

    python bench/liveness.py --dataset ../shared/faces/dev

For each person with two or more photos it makes one live sequence (different photos: the pose really
changes), and three attacks: a print and a phone screen moved rigidly in 3-D, and a replayed video of
the live sequence on a flat screen (testkit/attacks.py). Scores: the plane-fit residual of BlazeFace's six
keypoints (baseline) and of the face mesh's 468 points (what the terminal runs). BPCER = live sequences
refused; APCER = attack sequences accepted, per attack type, at the shipped threshold and at a threshold
chosen for BPCER <= 5 % on these live sequences. Synthetic figures: they do not predict real attacks on a
terminal camera. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.infer.liveness import PlanarityCheck, plane_residual  # noqa: E402
from edge.infer.pipeline import FacePipeline  # noqa: E402
from hadir.photo_folders import IMAGE_SUFFIXES  # noqa: E402
from testkit.attacks import sequences  # noqa: E402


def keypoint_score(kps: list[np.ndarray]) -> float | None:
    if len(kps) < 4:
        return None
    idx = np.linspace(0, len(kps) - 1, num=min(len(kps), 6)).astype(int)
    return float(np.median([plane_residual(kps[a], kps[b]) for i, a in enumerate(idx) for b in idx[i + 1:]]))


def rates(scores: dict[str, list[float | None]], threshold: float) -> dict[str, float]:
    def passed(v: float | None) -> bool:
        return v is not None and v >= threshold

    out = {"bpcer": float(np.mean([not passed(v) for v in scores["live"]]))}
    for kind in ("print", "screen", "replay"):
        out[f"apcer_{kind}"] = float(np.mean([passed(v) for v in scores[kind]]))
    return out


def threshold_for_bpcer(live: list[float | None], bpcer: float) -> float:
    values = np.sort([v for v in live if v is not None])
    k = int(np.floor(bpcer * len(live)))
    return float(values[min(k, len(values) - 1)]) if len(values) else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description="Planarity liveness on generated attacks.")
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--frames", type=int, default=8)
    args = ap.parse_args()
    photos = {p.name: sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
              for p in sorted(args.dataset.iterdir()) if p.is_dir()}
    pipeline = FacePipeline(mesh=True)
    check = PlanarityCheck()
    kp_scores: dict[str, list] = {k: [] for k in ("live", "print", "screen", "replay")}
    mesh_scores: dict[str, list] = {k: [] for k in kp_scores}
    for seq in sequences(photos, frames=args.frames):
        kps, meshes = [], []
        for frame in seq.frames:
            dets = pipeline.detect(frame)
            if not dets:
                continue
            det = max(dets, key=lambda d: d.size)
            kps.append(det.keypoints.astype(np.float64))
            meshes.append(pipeline.mesh.landmarks(frame, det.box)[0])
        kp_scores[seq.kind].append(keypoint_score(kps))
        mesh_scores[seq.kind].append(check.score(meshes))
    n = len(mesh_scores["live"])
    print(f"Planarity liveness on sequences generated from {args.dataset} ({n} people, {args.frames} frames each)")
    summary: dict[str, object] = {"people": n, "frames": args.frames}
    for name, scores, shipped in (("keypoints6", kp_scores, None), ("mesh468", mesh_scores, check.threshold)):
        chosen = threshold_for_bpcer(scores["live"], 0.05)
        for label, t in (("shipped", shipped), ("bpcer5", chosen)):
            if t is None:
                continue
            r = rates(scores, t)
            print(f"  {name:<10} threshold {t:.4f} ({label}): BPCER {r['bpcer']:.3f}; APCER print "
                  f"{r['apcer_print']:.3f}, screen {r['apcer_screen']:.3f}, replayed video {r['apcer_replay']:.3f}")
            summary[f"{name}_{label}"] = {"threshold": t, **r}
    print("  (synthetic: live = different photos of a person; replayed video of a live face is not what this "
          "check can catch)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
