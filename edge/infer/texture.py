"""Screen and print texture cue: the MiniFASNet pair from Silent-Face-Anti-Spoofing (edge/models).

Each model sees the face box enlarged around its centre (2.7x for V2, 4.0x for V1SE), so that a phone's
bezel, moire and screen glare around the face are in view; the score is the two models' mean probability
that the face is real. On the real footage in ../shared/faces/video the track medians of live faces were
0.93-1.00 and of the phone replays 0.01-0.09 (docs/accuracy.md). It is a texture cue only: a good print or a screen
it was not trained on can pass it, which is why the walk-past check also wants facial motion.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.infer.runtime import load

MODELS = (("minifasnet_v2", 2.7), ("minifasnet_v1se", 4.0))
REAL = 1  # class index of "real face" in the models' 3-class output


def crop_box(width: int, height: int, box: np.ndarray, scale: float) -> tuple[int, int, int, int]:
    """The original repository's crop: `box` scaled around its centre, shrunk to fit, shifted inside."""
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    scale = min((height - 1) / bh, (width - 1) / bw, scale)
    nw, nh = bw * scale, bh * scale
    cx, cy = x1 + bw / 2, y1 + bh / 2
    left, top, right, bottom = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > width - 1:
        left, right = left - (right - width + 1), width - 1.0
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), height - 1.0
    return int(max(left, 0)), int(max(top, 0)), int(right), int(bottom)


class TextureCheck:
    """Probability (0..1) that the face in `box` is a real face rather than a print or a screen."""

    def __init__(self, threads: int = 1):
        self.models = [(load(name, threads), scale) for name, scale in MODELS]

    def score(self, rgb: np.ndarray, box: np.ndarray) -> float:
        h, w = rgb.shape[:2]
        total = 0.0
        for model, scale in self.models:
            left, top, right, bottom = crop_box(w, h, box, scale)
            crop = rgb[top:bottom + 1, left:right + 1, ::-1]  # the models were trained on BGR
            if crop.size == 0:
                return 0.0
            tensor = cv2.resize(np.ascontiguousarray(crop), (80, 80)).astype(np.float32)[None]  # raw 0..255
            total += float(model.run(tensor)[0].reshape(-1)[REAL])  # the graph ends in a softmax
        return total / len(self.models)
