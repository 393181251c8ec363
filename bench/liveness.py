"""Walk-past liveness as APCER / BPCER (ISO/IEC 30107-3): real footage, and generated sequences.

    python bench/liveness.py --real DIR         # DIR/live/*, DIR/attack/* videos (any OpenCV-readable format)
    python bench/liveness.py --dataset ../shared/faces/dev     # older synthetic planarity figures

--real runs each video through the terminal's pipeline as shipped (detector, tracking, visit decision,
the passive liveness gate; the person in each video is enrolled from one of its own frames so that
visits are decided as for an employee) and reads the liveness verdict of every event. Last line JSON:
videos_live, videos_attack, bpcer_video (share of live videos in which no track was judged live),
apcer_video (share of attack videos in which any track was judged live), per-track and per-frame
figures. A track judged "inconclusive" is not live: it counts against BPCER (and for APCER it is a pass
of the attack check), because such an event does not count as attendance until someone reviews it.

--dataset (below) is the older experiment on sequences generated from still photos:

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
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.agent import EdgeAgent  # noqa: E402
from edge.capture.opencv_source import OpenCvSource  # noqa: E402
from edge.decide.liveness_gate import LivenessGate  # noqa: E402
from edge.decide.visits import DecisionPolicy, VisitDecider  # noqa: E402
from edge.infer.cues import CueMeter  # noqa: E402
from edge.infer.gallery import Gallery  # noqa: E402
from edge.infer.liveness import PlanarityCheck, judge_track, plane_residual  # noqa: E402
from edge.infer.pipeline import FacePipeline  # noqa: E402
from edge.infer.templates import face_to_template as best_face  # noqa: E402
from edge.outbox.store import Outbox  # noqa: E402
from hadir.photo_folders import IMAGE_SUFFIXES  # noqa: E402
from hadir.signing import new_key  # noqa: E402
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


VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif", ".m4v"}
T0 = datetime(2026, 11, 24, tzinfo=timezone.utc)


class RecordingMeter(CueMeter):
    """The shipped cue meter, also keeping every frame's texture score for the per-frame figures."""

    textures: list[float]

    def measure(self, rgb, box, at):  # type: ignore[override]
        cue = super().measure(rgb, box, at)
        self.textures.append(cue.texture)
        return cue


def enrol_from_video(pipeline: FacePipeline, video: Path) -> Gallery:
    """Enrol the video's person from one frame (10 % in), as an employee photo would be."""
    frames = list(OpenCvSource(str(video), start_at=T0).frames())
    embeddings = []
    for frame in frames[len(frames) // 10:] + frames[:len(frames) // 10]:
        face, _ = best_face(pipeline, frame.rgb)
        if face is not None:
            embeddings.append(face.embedding)
            break
    ids = [video.stem] * len(embeddings)
    dim = pipeline.embedder.dim
    return Gallery(pipeline.model_id, 1, ids, np.stack(embeddings) if embeddings else np.zeros((0, dim), np.float32))


class RecordingGate(LivenessGate):
    """The shipped gate, also keeping every track's cues for the per-window figures."""

    def __init__(self, meter: CueMeter):
        super().__init__(meter)
        self.archive: dict[int, list] = {}

    def observe(self, rgb, assigned, at):  # type: ignore[override]
        super().observe(rgb, assigned, at)
        for track_id, _ in assigned:
            self.archive.setdefault(track_id, []).append(self._tracks[track_id].cues[-1])


def windows(cues: list, seconds: float, step: float = 0.5) -> list:
    """Verdicts over every `seconds`-long stretch of a track (a walk-past lasts 1-3 s)."""
    out = []
    start = cues[0].at if cues else 0.0
    while cues and start + seconds <= cues[-1].at + 1e-6:
        part = [c for c in cues if start <= c.at <= start + seconds]
        out.append(judge_track(part).result)
        start += step
    return out


def run_video(video: Path, pipeline: FacePipeline, meter: RecordingMeter, workdir: Path) -> tuple[list[dict], dict]:
    """Every event the terminal records for this video, as {result, scores, employee_id}."""
    gallery = enrol_from_video(pipeline, video)
    emb = pipeline.embedder
    decider = VisitDecider(gallery, DecisionPolicy(accept=emb.default_accept,
                                                   unknown_below=emb.default_unknown_below), pipeline.model_id)
    outbox = Outbox(workdir / f"{video.parent.name}-{video.stem}.db")
    gate = RecordingGate(meter)
    agent = EdgeAgent("bench-live-01", pipeline, decider, outbox, new_key(), gate=gate)
    events = list(agent.run(OpenCvSource(str(video), start_at=T0).frames()))
    outbox.close()
    found = [{"result": e.liveness.result, "scores": e.liveness.scores, "employee_id": e.employee_id,
              "at_s": (e.captured_at - T0).total_seconds()}  # the decision's time in the video
             for e in events]
    spans = {f"{s:g}s": [r for cues in gate.archive.values() for r in windows(cues, s)] for s in (1.0, 2.0)}
    return found, spans


def real_main(root: Path, detector: str) -> None:
    pipeline = FacePipeline(detector=detector)  # type: ignore[arg-type]
    labels_file = Path(__file__).resolve().parent / "data" / "liveness_bona_fide.json"
    bona_fide = {k: v for k, v in json.loads(labels_file.read_text()).items() if not k.startswith("_")}
    spans_by_kind: dict[str, dict[str, list]] = {"live": {"1s": [], "2s": []}, "attack": {"1s": [], "2s": []}}
    meter = RecordingMeter()
    per_video: dict[str, dict] = {}
    frames: dict[str, list[float]] = {"live": [], "attack": []}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("live", "attack"):
            for video in sorted(p for p in (root / kind).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
                meter.textures = []
                events, spans = run_video(video, pipeline, meter, Path(tmp))
                frames[kind].extend(meter.textures)
                for name, results in spans.items():
                    spans_by_kind[kind][name].extend(results)
                for e in events:  # a real person in view in an attack video (labelled) is not the attack
                    spans_here = bona_fide.get(video.name, [])
                    e["bona_fide"] = any(s["from_s"] <= e["at_s"] <= s["to_s"] for s in spans_here)
                per_video[f"{kind}/{video.name}"] = {"kind": kind, "events": events}
                results = [e["result"] for e in events]
                print(f"  {kind:6s} {video.name:40s} tracks judged: {', '.join(results) or 'none'}")
                for e in events:
                    note = "  (labelled bona fide: a real person in view)" if e["bona_fide"] else ""
                    print(f"         {e['result']:12s} {json.dumps(e['scores'])}{note}")
    live = [v for v in per_video.values() if v["kind"] == "live"]
    attack = [v for v in per_video.values() if v["kind"] == "attack"]

    def share(items: list, test) -> float:
        return round(sum(1 for i in items if test(i)) / len(items), 4) if items else float("nan")

    live_tracks = [e for v in live for e in v["events"]]
    attack_tracks = [e for v in attack for e in v["events"]]
    summary = {
        "videos_live": len(live), "videos_attack": len(attack),
        "bpcer_video": share(live, lambda v: not any(e["result"] == "live" for e in v["events"])),
        "apcer_video": share(attack, lambda v: any(e["result"] == "live" for e in v["events"])),
        "tracks_live": len(live_tracks), "tracks_attack": len(attack_tracks),
        "bpcer_track": share(live_tracks, lambda e: e["result"] != "live"),
        "live_tracks_inconclusive": share(live_tracks, lambda e: e["result"] == "inconclusive"),
        "live_tracks_spoof": share(live_tracks, lambda e: e["result"] == "spoof"),
        "apcer_track": share(attack_tracks, lambda e: e["result"] == "live"),
        "apcer_video_presented_faces": share(attack, lambda v: any(e["result"] == "live" and not e["bona_fide"]
                                                                   for e in v["events"])),
        "attack_tracks_bona_fide": sum(1 for e in attack_tracks if e["bona_fide"]),
        "attack_tracks_spoof": share(attack_tracks, lambda e: e["result"] == "spoof"),
        "frames_live": len(frames["live"]), "frames_attack": len(frames["attack"]),
        "bpcer_frame_texture": share(frames["live"], lambda t: t < 0.5),
        "apcer_frame_texture": share(frames["attack"], lambda t: t >= 0.5),
        "detector": detector,
    }
    for kind, by_len in spans_by_kind.items():
        for name, results in by_len.items():
            summary[f"{kind}_windows_{name}"] = len(results)
            summary[f"{kind}_windows_{name}_live"] = share(results, lambda r: r == "live")
            summary[f"{kind}_windows_{name}_spoof"] = share(results, lambda r: r == "spoof")
    print(f"Walk-past liveness on real footage in {root}: {len(live)} live videos, {len(attack)} attack videos")
    print(json.dumps(summary))


def main() -> None:
    ap = argparse.ArgumentParser(description="Walk-past liveness on real footage (--real) or generated attacks.")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--real", type=Path, help="folder with live/ and attack/ video folders")
    group.add_argument("--dataset", type=Path, help="person folders of photos (synthetic sequences)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--detector", choices=["short", "full", "both"], default="short",
                    help="--real: the face detector (default: the shipped one)")
    args = ap.parse_args()
    if args.real:
        real_main(args.real, args.detector)
        return
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
