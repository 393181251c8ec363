"""Active liveness challenges (blink, turn left/right) as APCER / BPCER on real footage and on prints and
replays generated from it.

    python bench/active_liveness.py --video-dir ../shared/faces/video

Bona fide attempts (BPCER): the 11 labelled blinks of blinks.json (window: 0.8 s before to 0.8 s after
each) and the head turns of bench/data/turns.json (window: from the frontal frame, 3 s), each fed frame by
frame to `ActiveChallenge` of that kind. Attacks (APCER), for every challenge kind:
- prints made from two frames of every live video (hadir/attacks.py card geometry, print look, on a
  blurred frame of the same video): held still, moved in 3-D, nodded (pitch +-22 deg at 1.5 Hz), flicked
  (35 deg tilts of 0.25 s, the adversary's blink imitation), turned (yaw +-35 deg);
- replays generated from the bona fide windows themselves (the real blink or turn shown on a phone
  screen with moire and bezel, moved a little), so the action is in them;
- the two real phone-replay videos, in 6 s windows.
"action only" figures ignore the texture cue (what the blink/turn detectors alone would pass).
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.infer.active import ActiveChallenge, ChallengeKind, ChallengePolicy, ChallengeState  # noqa: E402
from edge.infer.cues import CueMeter  # noqa: E402
from edge.infer.detect import FaceDetector  # noqa: E402
from testkit.attacks import _moire, _place, _print_look, card_quad  # noqa: E402

LIVE = ["face_recognition/short_hamilton_clip.mp4", "liveportrait/d0.mp4", "liveportrait/d10.mp4",
        "liveportrait/d12.mp4", "liveportrait/d14.mp4", "liveportrait/d3.mp4", "liveportrait/d9.mp4",
        "pyimagesearch_liveness/real.mov", "sadtalker/WDA_AlexandriaOcasioCortez_000.mp4"]
REPLAYS = ["pyimagesearch_liveness/fake.mp4", "manikantha_liveness/fake.mp4"]
FPS = 25.0
KINDS = list(ChallengeKind)
ACTION_ONLY = ChallengePolicy(spoof_below=-1.0, live_above=-1.0)


def read(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or FPS
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames, fps


class Measurer:
    def __init__(self):
        self.meter, self.detector = CueMeter(), FaceDetector("short")

    def cues(self, frames: list[np.ndarray], fps: float) -> list:
        out = []
        for i, rgb in enumerate(frames):
            faces = self.detector.detect(rgb)
            face = max(faces, key=lambda d: d.size) if faces else None
            out.append(self.meter.measure(rgb, face.box, i / fps) if face else None)
        return out


def outcome(cues: list, fps: float, kind: ChallengeKind, policy: ChallengePolicy | None = None) -> str:
    challenge = ActiveChallenge.new(kind, policy=policy)
    state = ChallengeState.PENDING
    for i, cue in enumerate(cues):
        state = challenge.feed_cue(cue, i / fps)
        if state is not ChallengeState.PENDING:
            break
    return state.value


def face_card(detector: FaceDetector, rgb: np.ndarray) -> np.ndarray | None:
    faces = detector.detect(rgb)
    if not faces:
        return None
    box = max(faces, key=lambda d: d.size).box
    cx, cy = (box[:2] + box[2:]) / 2
    side = (box[2] - box[0]) * 2.0
    h, w = rgb.shape[:2]
    x1, y1 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x2, y2 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    card = rgb[y1:y2, x1:x2]
    return cv2.resize(card, (280, int(280 * card.shape[0] / card.shape[1])))


def print_motion(kind: str, i: int, rng: np.random.Generator) -> tuple:
    t = i / FPS
    if kind == "still":
        return (320 + rng.normal(0, 1), 240 + rng.normal(0, 1)), 300, rng.normal(0, .4), rng.normal(0, .4), 0
    if kind == "moved":
        return ((280 + 80 * t / 3, 240 + 15 * np.sin(2 * t)), 280 + 40 * t / 3, 25 * np.sin(2 * np.pi * t / 3),
                12 * np.sin(2 * np.pi * t / 2.2), 4 * np.sin(t))
    if kind == "nod":
        return (320, 240 + 10 * np.sin(2 * np.pi * 1.5 * t)), 300, 0, 22 * np.sin(2 * np.pi * 1.5 * t), 0
    if kind == "flick":
        phase = t % 1.0
        return (320, 240), 300, 0, (35 * np.sin(np.pi * phase / 0.25) if phase < 0.25 else 0.0), 0
    return (320, 240), 300, 35 * np.sin(2 * np.pi * t / 2.5), 0, 0  # turn


def background(rgb: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(cv2.resize(rgb, (640, 480)), (0, 0), 6)


def replay(frames: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    out, bg = [], background(frames[0])
    for i, rgb in enumerate(frames):
        t = i / FPS
        screen = _moire(cv2.resize(rgb, (300, int(300 * rgb.shape[0] / rgb.shape[1]))), rng)
        quad = card_quad((320 + 10 * np.sin(t), 240), 320, 8 * np.sin(t), 5 * np.sin(1.3 * t), 0)
        out.append(_place(bg, screen, quad))
    return out


def rate(results: list[str], what: str = "passed") -> float:
    return round(sum(r == what for r in results) / len(results), 4) if results else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description="Active liveness challenges on real footage and generated attacks.")
    ap.add_argument("--video-dir", type=Path, required=True)
    args = ap.parse_args()
    root = args.video_dir
    m = Measurer()
    rng = np.random.default_rng(7)
    blinks = json.loads((root / "blinks.json").read_text())
    turns = json.loads((Path(__file__).resolve().parent / "data" / "turns.json").read_text())["turns"]
    videos = {name: read(root / name) for name in LIVE}
    bona: dict[str, list[tuple[str, str]]] = {k.value: [] for k in KINDS}  # (with texture, action only)
    attacks: dict[str, dict[str, list[tuple[str, str]]]] = {k.value: {} for k in KINDS}

    def attack(kind: ChallengeKind, label: str, cues: list, fps: float) -> None:
        attacks[kind.value].setdefault(label, []).append(
            (outcome(cues, fps, kind), outcome(cues, fps, kind, ACTION_ONLY)))

    # Bona fide: labelled blinks and turns, and replays generated from exactly those windows.
    windows = []
    for name, label in blinks.items():
        frames, fps = videos[name]
        previous_end = -1
        for first, last in label["blinks_frames"]:
            # From 0.8 s before (not before the previous blink ended, so that it is this blink that counts).
            lo = max(0, first - int(0.8 * fps), previous_end + 2)
            hi = min(len(frames), last + int(0.8 * fps) + 1)
            previous_end = last
            windows.append((ChallengeKind.BLINK, frames[lo:hi], fps, f"{name} {first}-{last}"))
    for name, start, peak, direction in turns:
        frames, fps = videos[name]
        kind = ChallengeKind.TURN_LEFT if direction == "left" else ChallengeKind.TURN_RIGHT
        windows.append((kind, frames[start:start + int(3 * fps)], fps, f"{name} {start}-{peak} {direction}"))
    for kind, frames, fps, where in windows:
        cues = m.cues(frames, fps)
        result = (outcome(cues, fps, kind), outcome(cues, fps, kind, ACTION_ONLY))
        bona[kind.value].append(result)
        print(f"  bona fide {kind.value:10s} {where:58s} {result[0]:8s} (action only: {result[1]})")
        attack(kind, "replay_generated", m.cues(replay(frames, rng), fps), fps)

    # Prints of two frames of every live video, moved in five ways; every challenge kind tries them.
    for name, (frames, _) in videos.items():
        for index in (5, min(100, len(frames) - 1)):
            card = face_card(m.detector, frames[index])
            if card is None:
                continue
            bg = background(frames[index])
            for motion in ("still", "moved", "nod", "flick", "turn"):
                look = _print_look(card, rng)
                seq = [_place(bg, look, card_quad(*print_motion(motion, i, rng))) for i in range(int(3 * FPS))]
                cues = m.cues(seq, FPS)
                for kind in KINDS:
                    attack(kind, f"print_{motion}", cues, FPS)
        print(f"  prints of {name} done")

    # The real phone replays, in 6 s windows.
    for name in REPLAYS:
        frames, fps = read(root / name)
        step = int(3 * fps)
        for lo in range(0, max(1, len(frames) - step), step):
            cues = m.cues(frames[lo:lo + 2 * step], fps)
            for kind in KINDS:
                attack(kind, "replay_real", cues, fps)

    summary: dict[str, object] = {}
    print("Per challenge: BPCER (bona fide not passed) and APCER (attacks passed); action only in brackets")
    for kind in KINDS:
        k = kind.value
        results = bona[k]
        entry: dict[str, object] = {"bona_fide": len(results), "bpcer": round(1 - rate([r[0] for r in results]), 4),
                                    "bpcer_action_only": round(1 - rate([r[1] for r in results]), 4)}
        for label, rs in sorted(attacks[k].items()):
            entry[f"apcer_{label}"] = rate([r[0] for r in rs])
            entry[f"apcer_{label}_action_only"] = rate([r[1] for r in rs])
            entry[f"n_{label}"] = len(rs)
        summary[k] = entry
        print(f"  {k:10s} bona fide {len(results):2d}: BPCER {entry['bpcer']:.3f} [{entry['bpcer_action_only']:.3f}]; "
              + ", ".join(f"{label} {entry[f'apcer_{label}']:.3f} [{entry[f'apcer_{label}_action_only']:.3f}] "
                          f"of {entry[f'n_{label}']}" for label in sorted(attacks[k])))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
