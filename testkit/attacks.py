"""Generated presentation-attack and live sequences for measuring liveness (synthetic, and said so).

- live: a face whose pose really changes, made from *different* photos of the same person, each placed
  with a little motion, as frames of one track;
- print: one photo on a flat card moved rigidly in 3-D (perspective tilts and turns, shifts);
- screen: the same, with a moire pattern and a dark bezel, as a phone held up to the camera;
- replay: the live frames shown on a flat screen moved rigidly (a replayed video of a real head).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.capture.folder_source import read_rgb

FRAME = (480, 640)  # height, width


@dataclass(frozen=True)
class Sequence:
    kind: str  # live, print, screen, replay
    person: str
    frames: list[np.ndarray]


def _canvas(rng: np.random.Generator) -> np.ndarray:
    base = rng.integers(90, 140)
    frame = np.full((*FRAME, 3), base, np.uint8)
    return frame


def _place(frame: np.ndarray, img: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Warp `img` onto the quadrilateral `quad` (4 x 2, clockwise from top-left) of `frame`."""
    h, w = img.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    warped = cv2.warpPerspective(img, m, (frame.shape[1], frame.shape[0]))
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (frame.shape[1], frame.shape[0]))
    out = frame.copy()
    out[mask > 0] = warped[mask > 0]
    return out


def card_quad(center: tuple[float, float], size: float, yaw: float, pitch: float, roll: float,
              focal: float = 700.0) -> np.ndarray:
    """Project a flat square card of `size` px, turned by yaw/pitch/roll (degrees), with a pinhole camera."""
    half = size / 2
    corners = np.array([[-half, -half, 0], [half, -half, 0], [half, half, 0], [-half, half, 0]], np.float64)
    rvec = np.radians([pitch, yaw, roll])
    rot, _ = cv2.Rodrigues(rvec)
    pts = corners @ rot.T + np.array([0, 0, focal])
    proj = pts[:, :2] / pts[:, 2:3] * focal
    return proj + np.array(center)


def _moire(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    angle, freq = rng.uniform(0, np.pi), rng.uniform(0.6, 1.2)
    pattern = 12 * np.sin(freq * (xx * np.cos(angle) + yy * np.sin(angle)))
    out = img.astype(np.float32) + pattern[..., None]
    bezel = max(4, w // 20)
    out[:bezel], out[-bezel:], out[:, :bezel], out[:, -bezel:] = 15, 15, 15, 15
    return np.clip(out, 0, 255).astype(np.uint8)


def _print_look(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grey = img.mean(axis=2, keepdims=True)
    faded = 0.75 * img + 0.25 * grey + 20
    return np.clip(faded + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)


def _square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    side = min(h, w)
    return img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]


def sequences(photos_by_person: dict[str, list[Path]], frames: int = 8, seed: int = 11) -> Iterator[Sequence]:
    """For each person with at least two photos: one live, print, screen and replay sequence."""
    rng = np.random.default_rng(seed)
    for person, paths in sorted(photos_by_person.items()):
        imgs = [img for img in (read_rgb(p) for p in paths) if img is not None]
        if len(imgs) < 2:
            continue
        imgs = [_square(i) for i in imgs]
        # Live: the pose changes because the photos differ; small shifts and scale changes on top.
        live = []
        for i in range(frames):
            img = imgs[i % len(imgs)]
            size = 300 + 6 * i + rng.uniform(-5, 5)
            quad = card_quad((320 + rng.uniform(-15, 15), 240 + rng.uniform(-10, 10)), size, 0, 0,
                             rng.uniform(-2, 2))
            live.append(_place(_canvas(rng), img, quad))
        yield Sequence("live", person, live)
        # Attacks: one photo, moved rigidly in 3-D.
        card = imgs[0]
        yaw0, pitch0 = rng.uniform(-25, 25), rng.uniform(-15, 15)
        for kind, look in (("print", _print_look), ("screen", _moire)):
            shown = look(card, rng)
            seq = []
            for i in range(frames):
                t = i / (frames - 1)
                quad = card_quad((300 + 40 * t, 240 + rng.uniform(-8, 8)), 300 + 30 * t,
                                 yaw0 * (1 - 2 * t), pitch0 * (1 - 2 * t), rng.uniform(-3, 3))
                seq.append(_place(_canvas(rng), shown, quad))
            yield Sequence(kind, person, seq)
        # Replay: the live frames shown on a flat screen that is moved rigidly.
        replay = []
        for i, frame in enumerate(live):
            t = i / (frames - 1)
            screen = _moire(cv2.resize(frame[60:420, 140:500], (320, 320)), rng)
            quad = card_quad((320, 240), 340, 15 * (1 - 2 * t), 8 * (1 - 2 * t), 0)
            replay.append(_place(_canvas(rng), screen, quad))
        yield Sequence("replay", person, replay)
