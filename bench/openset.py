"""Open-set (1:N) walk-past figures: enrolled people, strangers, one decision per visit.

    python bench/openset.py --dataset ../shared/faces/lfw-dev --splits 3

DIR holds one folder of photos per person. For each seeded split, half of the people with at least 3
photos are enrolled with 2 photos each through the product's enrolment path (a refused photo is
replaced by the person's next one, as an operator would). Every other photo becomes part of a visit of
up to 3 photos (each person's remaining photos split evenly into visits): enrolled people's visits
should name them, strangers' visits (people not enrolled, including everyone with fewer than 3 photos)
must name nobody. Each visit is one track fed photo by photo, as frames 0.2 s apart, to the product's
visit decision (`VisitDecider`) with the shipped configuration (`EdgeSettings().recognition`).

`--degrade` applies one degradation to the visit photos only (enrolment photos stay clean), and
`--frame WxH` pastes each visit photo into a frame of that size, so the detector must find the face in
a wide frame. The peer `face_recognition` (dlib HOG detector, upsample 1, + dlib ResNet, tolerance 0.6)
runs, when it is importable, on the same degraded photos but not pasted into the wide frame: its HOG
search of a 1280x720 frame takes 1.5-2 s here, and the face's pixels are the same either way (a favour
to the peer: less background to find false faces in). A peer visit is accepted as the person most of
its frames match.

Last line: one JSON object with the figures averaged over splits (per split in `splits`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.capture.folder_source import read_rgb  # noqa: E402
from edge.config import EdgeSettings  # noqa: E402
from edge.decide.visits import VisitDecider, policy_for  # noqa: E402
from edge.enrol import enrol  # noqa: E402
from edge.infer.detect import Detection  # noqa: E402
from edge.infer.pipeline import Face, FacePipeline  # noqa: E402
from hadir.photo_folders import IMAGE_SUFFIXES  # noqa: E402

T0 = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)
LFW_FACE_PX = 110.0  # typical face width in a 250x250 LFW photo: the scale for --degrade face40/face60


# ---------------------------------------------------------------------------------------------- degradations

def _low_light(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    dark = 255.0 * (rgb.astype(np.float32) / 255.0) ** 1.6 * 0.3  # underexposed, darker mid-tones
    return np.clip(dark + rng.normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)  # sensor noise


def _motion_blur(rgb: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    kernel = np.zeros((15, 15), np.float32)
    kernel[7, :] = 1 / 15  # 15 px horizontal: someone walking across the view
    return cv2.filter2D(rgb, -1, kernel)


def _jpeg15(rgb: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 15])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _face_px(target: float):
    def shrink(rgb: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
        scale = target / (LFW_FACE_PX * rgb.shape[1] / 250.0)
        return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return shrink


def _roll20(rgb: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def _mask(rgb: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    """A surgical-mask-like patch over the lower half of the (centred) LFW face: nose tip to chin."""
    out = rgb.copy()
    h, w = rgb.shape[:2]
    pts = np.array([[0.31 * w, 0.53 * h], [0.69 * w, 0.53 * h], [0.66 * w, 0.76 * h], [0.5 * w, 0.82 * h],
                    [0.34 * w, 0.76 * h]], np.int32)
    cv2.fillPoly(out, [pts], (150, 190, 215))
    return out


DEGRADATIONS = {"none": None, "low_light": _low_light, "motion_blur15": _motion_blur, "jpeg15": _jpeg15,
                "face40": _face_px(40), "face60": _face_px(60), "roll20": _roll20, "mask": _mask}


def in_frame(rgb: np.ndarray, size: tuple[int, int] | None, rng: np.random.Generator) -> np.ndarray:
    """Paste a photo into a plain width x height frame at a random place (none: the photo is the frame)."""
    if size is None:
        return rgb
    w, h = size
    y = np.linspace(90, 150, h, dtype=np.float32)[:, None] + np.linspace(0, 30, w, dtype=np.float32)[None, :]
    frame = np.dstack([y, y + 5, y + 12]).astype(np.uint8)
    ph, pw = min(rgb.shape[0], h), min(rgb.shape[1], w)
    x0, y0 = int(rng.integers(0, w - pw + 1)), int(rng.integers(0, h - ph + 1))
    frame[y0:y0 + ph, x0:x0 + pw] = rgb[:ph, :pw]
    return frame


# ---------------------------------------------------------------------------------------------- data

def people_of(root: Path, max_people: int | None) -> dict[str, list[Path]]:
    people = {}
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = sorted(p for p in person.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if photos:
            people[person.name] = photos
    if max_people and len(people) > max_people:
        keep = np.random.default_rng(12345).choice(sorted(people), max_people, replace=False)
        people = {k: people[k] for k in sorted(keep)}
    return people


def visits_of(photos: list[Path], size: int = 3) -> list[list[Path]]:
    """Split photos evenly into visits of at most `size`."""
    if not photos:
        return []
    n = math.ceil(len(photos) / size)
    return [list(chunk) for chunk in np.array_split(np.array(photos, dtype=object), n)]


class CachedPipeline:
    """The product pipeline, with each distinct image analysed once across splits (same result)."""

    def __init__(self, pipeline: FacePipeline):
        self.inner = pipeline
        self.cache: dict[str, list[Face]] = {}
        self.ms: list[float] = []
        self.faces_timed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def analyse(self, rgb: np.ndarray) -> list[Face]:
        key = hashlib.sha1(rgb.tobytes() + str(rgb.shape).encode()).hexdigest()
        if key not in self.cache:
            started = time.perf_counter()
            self.cache[key] = self.inner.analyse(rgb)
            if self.cache[key]:
                self.ms.append((time.perf_counter() - started) * 1000)
                self.faces_timed += len(self.cache[key])
        return self.cache[key]


class Probes:
    """The degraded photo and its frame for each visit photo, made once (seeded per photo, so every split
    sees the same)."""

    def __init__(self, degrade: str, frame: tuple[int, int] | None):
        self.fn, self.frame = DEGRADATIONS[degrade], frame
        self.cache: dict[Path, tuple[np.ndarray, np.ndarray] | None] = {}

    def get(self, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        """(frame for the product, degraded photo for the peer)."""
        if path not in self.cache:
            rgb = read_rgb(path)
            pair = None
            if rgb is not None:
                rng = np.random.default_rng(int(hashlib.sha1(str(path).encode()).hexdigest()[:8], 16))
                if self.fn is not None:
                    rgb = self.fn(rgb, rng)
                pair = (in_frame(rgb, self.frame, rng), rgb)
            self.cache[path] = pair
        return self.cache[path]


# ---------------------------------------------------------------------------------------------- decisions

def decide_visit(pipeline: CachedPipeline, gallery, settings, frames: list[np.ndarray]) -> list[str | None]:
    """Feed a visit's frames as one track to the product's decider; the identities it accepted."""
    rec = settings.recognition
    policy = policy_for(rec, pipeline.embedder, liveness=rec.liveness != "none")
    decider = VisitDecider(gallery, policy, pipeline.model_id)
    # One walker: every frame's face belongs to the same track (the photos are not a continuous video,
    # so association by position is replaced by this one fixed box).
    anchor = Detection(np.array([100, 100, 200, 200], np.float32), np.zeros((6, 2), np.float32), 1.0)
    decisions, at = [], T0
    for i, rgb in enumerate(frames):
        at = T0 + timedelta(seconds=0.2 * i)
        faces = pipeline.analyse(rgb)
        face = max(faces, key=lambda f: f.detection.size) if faces else None
        decisions += decider.update([(anchor, face)] if face is not None else [], at)
    decisions += decider.flush(at)
    return [d.employee_id for d in decisions if d.employee_id is not None]


class Peer:
    """face_recognition as its users run it: HOG detector (upsample 1), 128-d encoding, tolerance 0.6."""

    TOLERANCE = 0.6

    def __init__(self) -> None:
        import face_recognition

        self.fr = face_recognition
        self.cache: dict[str, np.ndarray | None] = {}
        self.ms: list[float] = []

    def encode(self, rgb: np.ndarray) -> np.ndarray | None:
        key = hashlib.sha1(rgb.tobytes() + str(rgb.shape).encode()).hexdigest()
        if key not in self.cache:
            started = time.perf_counter()
            boxes = self.fr.face_locations(rgb)
            enc = None
            if boxes:
                box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
                enc = self.fr.face_encodings(rgb, [box])[0]
                self.ms.append((time.perf_counter() - started) * 1000)
            self.cache[key] = enc
        return self.cache[key]

    def decide(self, ids: list[str], templates: np.ndarray, frames: list[np.ndarray]) -> list[str | None]:
        votes = []
        for rgb in frames:
            enc = self.encode(rgb)
            if enc is None or not len(ids):
                continue
            dist = np.linalg.norm(templates - enc, axis=1)
            best = int(np.argmin(dist))
            if dist[best] <= self.TOLERANCE:
                votes.append(ids[best])
        if not votes:
            return []
        top = max(set(votes), key=votes.count)
        return [top] if votes.count(top) > len(frames) / 2 else []


# ---------------------------------------------------------------------------------------------- one split

def run_split(seed: int, people: dict[str, list[Path]], pipeline: CachedPipeline, probes: Probes,
              peer: Peer | None, settings) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    candidates = sorted(p for p, photos in people.items() if len(photos) >= 3)
    enrolled = set(rng.permutation(candidates)[: len(candidates) // 2].tolist())
    to_enrol: dict[str, list[Path]] = {}
    visit_photos: dict[str, list[Path]] = {}
    for person, photos in people.items():
        order = [photos[i] for i in rng.permutation(len(photos))]
        visit_photos[person] = order
        if person in enrolled:
            to_enrol[person] = order

    # Enrolment through the product path: 2 accepted photos each; a refused photo is replaced by the next.
    ids, templates, peer_ids, peer_templates = [], [], [], []
    for person, order in to_enrol.items():
        used: list[Path] = []
        for index, path in enumerate(order):
            if len(used) == 2 or index == len(order) - 1:
                break  # two templates, or keep at least one photo for a visit
            g, report = enrol(pipeline, {person: [path]})
            if len(g):
                used.append(path)
                ids.append(person)
                templates.append(g.templates[0])
                if peer is not None:
                    rgb = read_rgb(path)
                    enc = peer.encode(rgb) if rgb is not None else None
                    if enc is not None:
                        peer_ids.append(person)
                        peer_templates.append(enc)
        visit_photos[person] = [p for p in order if p not in used]
    from edge.infer.gallery import Gallery

    gallery = Gallery(pipeline.model_id, 1, ids, np.stack(templates))
    peer_matrix = np.stack(peer_templates) if peer_templates else np.zeros((0, 128))

    counts = {k: 0 for k in ("enrolled", "stranger", "correct", "wrong", "stranger_accepted", "peer_correct",
                             "peer_wrong", "peer_stranger_accepted", "frames", "found", "peer_found")}
    for person, photos in visit_photos.items():
        for visit in visits_of(photos):
            pairs = [f for f in (probes.get(p) for p in visit) if f is not None]
            frames, peer_frames = [f for f, _ in pairs], [p for _, p in pairs]
            counts["frames"] += len(frames)
            counts["found"] += sum(bool(pipeline.analyse(f)) for f in frames)
            if peer is not None:
                counts["peer_found"] += sum(peer.encode(f) is not None for f in peer_frames)
            named = decide_visit(pipeline, gallery, settings, frames)
            peer_named = peer.decide(peer_ids, peer_matrix, peer_frames) if peer is not None else []
            if person in enrolled:
                counts["enrolled"] += 1
                counts["correct"] += bool(named) and all(n == person for n in named)
                counts["wrong"] += any(n != person for n in named)
                counts["peer_correct"] += peer_named == [person]
                counts["peer_wrong"] += bool(peer_named) and peer_named != [person]
            else:
                counts["stranger"] += 1
                counts["stranger_accepted"] += bool(named)
                counts["peer_stranger_accepted"] += bool(peer_named)
    ne, ns = max(counts["enrolled"], 1), max(counts["stranger"], 1)
    out = {
        "seed": seed, "gallery_size": len(set(ids)), "templates": len(ids),
        "visits_enrolled": counts["enrolled"], "visits_stranger": counts["stranger"],
        "correct_rate": counts["correct"] / ne, "wrong_identity_rate": counts["wrong"] / ne,
        "no_decision_rate": (counts["enrolled"] - counts["correct"] - counts["wrong"]) / ne,
        "stranger_accept_rate": counts["stranger_accepted"] / ns,
        "face_found_rate": counts["found"] / max(counts["frames"], 1),
    }
    if peer is not None:
        out |= {"peer_correct_rate": counts["peer_correct"] / ne, "peer_wrong_identity_rate": counts["peer_wrong"] / ne,
                "peer_stranger_accept_rate": counts["peer_stranger_accepted"] / ns,
                "peer_face_found_rate": counts["peer_found"] / max(counts["frames"], 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, required=True, help="DIR/<person>/<photos>")
    ap.add_argument("--splits", type=int, default=3, help="seeded splits (seeds 0..N-1 + --seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--degrade", default="none", choices=sorted(DEGRADATIONS))
    ap.add_argument("--frame", default=None, help="paste each visit photo into a WxH frame, e.g. 1280x720")
    ap.add_argument("--max-people", type=int, default=None, help="use a fixed random subset of people")
    ap.add_argument("--no-peer", action="store_true", help="skip face_recognition even when importable")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if not args.dataset.is_dir():
        sys.exit(f"--dataset {args.dataset} is not a folder (expected DIR/<person>/<photos>)")
    frame = tuple(int(v) for v in args.frame.lower().split("x")) if args.frame else None

    settings = EdgeSettings()
    rec = settings.recognition
    pipeline = CachedPipeline(FacePipeline(detector=rec.detector, threads=args.threads, embedder=rec.embedder,
                                           min_face_px=rec.min_face_px))
    peer = None
    if not args.no_peer:
        try:
            peer = Peer()
        except ImportError as exc:
            print(f"peer face_recognition not importable ({exc}): peer_* figures left out", file=sys.stderr)
    people = people_of(args.dataset, args.max_people)
    probes = Probes(args.degrade, frame)  # type: ignore[arg-type]
    policy = policy_for(rec, pipeline.embedder, liveness=rec.liveness != "none")
    print(f"Open-set benchmark on {args.dataset}: {len(people)} people; model {pipeline.model_id}, detector "
          f"{rec.detector}; degrade {args.degrade}, frame {args.frame or 'photo as is'}; accept {policy.accept}, "
          f"unknown_below {policy.unknown_below}, min_margin {policy.min_margin}, min_frames {policy.min_frames}")
    splits = []
    for k in range(args.splits):
        result = run_split(args.seed + k, people, pipeline, probes, peer, settings)
        splits.append(result)
        print("  split " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                     for k, v in result.items()))
    keys = [k for k in splits[0] if k != "seed"]
    summary: dict[str, Any] = {k: float(np.mean([s[k] for s in splits])) for k in keys}
    for k in ("gallery_size", "visits_enrolled", "visits_stranger", "templates"):
        summary[k] = int(round(summary[k]))
    summary["ms_per_face"] = float(np.sum(pipeline.ms) / max(pipeline.faces_timed, 1))
    if peer is not None:
        summary["peer_ms_per_face"] = float(np.mean(peer.ms)) if peer.ms else None
    summary |= {"splits": len(splits), "worst_stranger_accept_rate": max(s["stranger_accept_rate"] for s in splits),
                "worst_wrong_identity_rate": max(s["wrong_identity_rate"] for s in splits),
                "worst_correct_rate": min(s["correct_rate"] for s in splits), "degrade": args.degrade,
                "frame": args.frame, "model": pipeline.model_id, "accept": policy.accept,
                "unknown_below": policy.unknown_below, "per_split": splits}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
