"""Smallest face found per frame resolution: the shipped multi-scale detector against single passes.

    python bench/face_size.py --dataset ../shared/faces/lfw-dev --faces 60

Pastes photos of the dataset, scaled so the face box is N px wide, at random places in plain frames of
640x480, 1280x720 and 1920x1080, and counts how often each detector finds the face (centre within half a
face of the truth). Also: milliseconds per frame on one thread, and how many frames a video needs before
every tile of the multi-scale detector has been searched (it searches `tiles_per_frame` per frame).
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.capture.folder_source import read_rgb  # noqa: E402
from edge.config import Recognition  # noqa: E402
from edge.infer.detect import FaceDetector, MultiScaleDetector  # noqa: E402
from hadir.photo_folders import IMAGE_SUFFIXES  # noqa: E402

RESOLUTIONS = ((640, 480), (1280, 720), (1920, 1080))
SIZES = (30, 40, 50, 60, 80, 100, 140)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--faces", type=int, default=60, help="photos per cell")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    paths = sorted(p for d in args.dataset.iterdir() if d.is_dir() for p in d.iterdir()
                   if p.suffix.lower() in IMAGE_SUFFIXES)
    paths = [paths[i] for i in rng.choice(len(paths), min(len(paths), args.faces * 2), replace=False)]
    reference = FaceDetector("full")
    crops = []
    for path in paths:
        rgb = read_rgb(path)
        dets = reference.detect(rgb) if rgb is not None else []
        if dets:
            crops.append((rgb, max(dets, key=lambda d: d.size)))
        if len(crops) == args.faces:
            break
    rec = Recognition()
    detectors = {"auto": MultiScaleDetector(rec.min_face_px, 1, rec.tiles_per_frame),
                 "short": FaceDetector("short"), "full": FaceDetector("full")}
    table: dict[str, dict] = {}
    for width, height in RESOLUTIONS:
        key = f"{width}x{height}"
        table[key] = {"found": {}, "ms_per_frame": {}}
        windows = len(detectors["auto"].windows(width, height))
        table[key]["auto_windows"] = windows
        rounds = int(np.ceil((windows - 1) / rec.tiles_per_frame)) if windows > 1 else 1
        table[key]["auto_frames_to_search_all_tiles"] = rounds
        times: dict[str, list[float]] = {name: [] for name in detectors}
        for size in SIZES:
            hits = dict.fromkeys(detectors, 0)
            for rgb, det in crops:
                scale = size / det.size
                img = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                frame = np.full((height, width, 3), 120, np.uint8)
                ih, iw = min(img.shape[0], height), min(img.shape[1], width)
                x0, y0 = int(rng.integers(0, width - iw + 1)), int(rng.integers(0, height - ih + 1))
                frame[y0:y0 + ih, x0:x0 + iw] = img[:ih, :iw]
                truth = np.array([x0, y0]) + det.centre * scale
                for name, detector in detectors.items():
                    started = time.perf_counter()
                    found = detector.detect(frame)
                    times[name].append((time.perf_counter() - started) * 1000)
                    hits[name] += any(np.linalg.norm(d.centre - truth) < size / 2 for d in found)
            table[key]["found"][size] = {name: round(h / len(crops), 3) for name, h in hits.items()}
        stream = MultiScaleDetector(rec.min_face_px, 1, rec.tiles_per_frame)
        frame = np.full((height, width, 3), 120, np.uint8)
        started = time.perf_counter()
        for _ in range(10):
            stream.detect(frame, stream=True)
        table[key]["ms_per_frame"] = {name: round(float(np.mean(t)), 1) for name, t in times.items()}
        table[key]["ms_per_frame"]["auto_video"] = round((time.perf_counter() - started) * 100, 1)
        print(f"{key}: windows {windows}, all tiles every {table[key]['auto_frames_to_search_all_tiles']} frames; "
              f"ms/frame {table[key]['ms_per_frame']}")
        for size, row in table[key]["found"].items():
            print(f"  face {size:>3} px: " + ", ".join(f"{n} {v:.2f}" for n, v in row.items()))
    print(json.dumps({"faces": len(crops), "min_face_px": rec.min_face_px, "tiles_per_frame": rec.tiles_per_frame,
                      "resolutions": table}))


if __name__ == "__main__":
    main()
