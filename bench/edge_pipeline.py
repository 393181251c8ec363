"""Per-frame cost and decision latency of the terminal pipeline on generated walk-past videos.

    python bench/edge_pipeline.py [--faces DIR]

For 640x480 and 1280x720, with 1 and 2 threads: the tracked pipeline (detect every frame, embed and
mesh only tracks still undecided, one decision per visit) beside a naive per-frame pipeline of our own
(embed every face in every frame) in the same run, and the `face_recognition` library (dlib HOG + ResNet)
when it is installed. Decision latency = capture time of the decision minus the face's first frame,
plus the processing time of the deciding frame. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.capture.opencv_source import OpenCvSource  # noqa: E402
from edge.decide.visits import DecisionPolicy, VisitDecider  # noqa: E402
from edge.enrol import enrol  # noqa: E402
from edge.infer.pipeline import FacePipeline  # noqa: E402
from testkit.walkpast import Scene, Visit, render  # noqa: E402

T0 = datetime(2026, 11, 24, tzinfo=timezone.utc)
PEOPLE = ("person01", "person05", "person06", "person08")


def load_frames(video: Path):
    """Stream the video (a generator), so memory reflects the pipeline, not a list of decoded frames."""
    return OpenCvSource(str(video), start_at=T0).frames()


def tracked(pipeline: FacePipeline, gallery, frames) -> tuple[float, list[float], int]:
    decider = VisitDecider(gallery, DecisionPolicy(liveness_frames=6), pipeline.model_id)
    costs, latencies, decisions, last = [], [], 0, T0
    for frame in frames:
        last = frame.at
        started = time.perf_counter()
        faces = [(d, pipeline.analyse_detection(frame.rgb, d) if decider.needs_embedding(d) else None)
                 for d in pipeline.detect(frame.rgb)]
        made = decider.update(faces, frame.at)
        cost = time.perf_counter() - started
        costs.append(cost * 1000)
        for d in made:
            decisions += 1
            latencies.append((d.decided_at - d.first_seen).total_seconds() * 1000 + cost * 1000)
    decisions += len(decider.flush(last))
    return float(np.mean(costs)), latencies, decisions


def naive(pipeline: FacePipeline, frames) -> float:
    costs = []
    for frame in frames:
        started = time.perf_counter()
        pipeline.analyse(frame.rgb)  # detect + align + quality + embed (+ mesh) every face, every frame
        costs.append((time.perf_counter() - started) * 1000)
    return float(np.mean(costs))


def face_recognition_cost(frames) -> float | None:
    try:
        import face_recognition  # type: ignore[import-not-found]
    except ImportError:
        return None
    costs = []
    for frame in frames:
        started = time.perf_counter()
        boxes = face_recognition.face_locations(frame.rgb, model="hog")
        face_recognition.face_encodings(frame.rgb, boxes)
        costs.append((time.perf_counter() - started) * 1000)
    return float(np.mean(costs))


def main() -> None:
    ap = argparse.ArgumentParser(description="Edge pipeline cost per frame and decision latency.")
    ap.add_argument("--faces", type=Path, default=Path(__file__).resolve().parent.parent / "hadir_ops" / "demo_faces")
    ap.add_argument("--fps", type=float, default=25.0, help="camera frame rate of the generated videos")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hadir-bench-edge-"))
    result: dict[str, dict] = {}
    try:
        import face_recognition  # type: ignore[import-not-found]  # noqa: F401

        has_fr = True
    except ImportError:
        has_fr = False
        print("face_recognition is not installed (its dlib builds from source): baseline skipped. "
              "pip install face_recognition to include it.")
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    for width, height in ((640, 480), (1280, 720)):
        figures: dict[str, float | None] = {}
        for threads in (1, 2):
            pipeline = FacePipeline(threads=threads, mesh=True)
            gallery, _ = enrol(pipeline, {p: sorted((args.faces / p).glob("*.jpg"))[:2] for p in PEOPLE})
            visits = [Visit(sorted((args.faces / p).glob("*.jpg"))[2:], frames=40, gap_after=20) for p in PEOPLE]
            video = render(Scene(width=width, height=height, fps=args.fps, visits=visits),
                           work / f"walk-{width}.avi", pipeline.detectors[0])
            ms, latencies, decisions = tracked(pipeline, gallery, load_frames(video))
            figures[f"ms_per_frame_{threads}t"] = ms
            if threads == 1:
                figures["decision_latency_ms_p50"] = float(np.percentile(latencies, 50)) if latencies else None
                figures["decisions"] = decisions
                figures["visits"] = len(visits)
                figures["naive_ms_per_frame"] = naive(pipeline, load_frames(video))
                figures["face_recognition_ms_per_frame"] = (face_recognition_cost(load_frames(video))
                                                            if has_fr else None)
        figures["fps_1t"] = 1000 / figures["ms_per_frame_1t"]
        figures["fps_2t"] = 1000 / figures["ms_per_frame_2t"]
        figures["speedup_vs_naive"] = figures["naive_ms_per_frame"] / figures["ms_per_frame_1t"]
        fr = figures["face_recognition_ms_per_frame"]
        figures["speedup_vs_face_recognition"] = fr / figures["ms_per_frame_1t"] if fr else None
        key = f"{width}x{height}"
        result[key] = figures
        print(f"{key}: tracked {figures['ms_per_frame_1t']:.1f} ms/frame (1 thread), "
              f"{figures['ms_per_frame_2t']:.1f} ms (2 threads) = {figures['fps_1t']:.0f} / {figures['fps_2t']:.0f} "
              f"fps; naive per-frame {figures['naive_ms_per_frame']:.1f} ms ({figures['speedup_vs_naive']:.2f}x); "
              f"face_recognition {f'{fr:.1f} ms' if fr else 'n/a'}; decision latency p50 "
              f"{figures['decision_latency_ms_p50']:.0f} ms; {figures['decisions']} decisions for "
              f"{figures['visits']} visits")
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / (time.perf_counter() - wall0)
    print(f"CPU {cpu * 100:.0f} % of one core on average; peak memory {cpu1.ru_maxrss / 1024:.0f} MB")
    result["cpu_cores_used"] = round(cpu, 2)  # type: ignore[assignment]
    result["max_rss_mb"] = round(cpu1.ru_maxrss / 1024, 1)  # type: ignore[assignment]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
