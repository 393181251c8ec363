"""BlazeFace face detection (MediaPipe short- and full-range models) with keypoints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.infer.runtime import TfliteModel, load

# Keypoint order of BlazeFace: image-left eye (subject's right), image-right eye, nose tip,
# mouth centre, image-left ear tragion, image-right ear tragion.
EYE_L, EYE_R, NOSE, MOUTH = 0, 1, 2, 3


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # x1, y1, x2, y2 in image pixels
    keypoints: np.ndarray  # 6 x 2 in image pixels
    score: float

    @property
    def centre(self) -> np.ndarray:
        return (self.box[:2] + self.box[2:]) / 2

    @property
    def size(self) -> float:
        return float(max(self.box[2] - self.box[0], self.box[3] - self.box[1]))


def _anchors(input_size: int, strides: list[int], per_cell: list[int]) -> np.ndarray:
    """MediaPipe SSD anchors (fixed size 1, offset 0.5): centres normalised to the input."""
    centres = []
    for stride, n in zip(strides, per_cell, strict=True):
        cells = input_size // stride
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, n, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


_SPECS = {
    # name: (input size, strides, anchors per cell (same-stride layers merged), score threshold)
    "short": (128, [8, 16], [2, 6], 0.5),
    "full": (192, [4], [1], 0.6),
}


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray, iou: float = 0.3
                 ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS: overlapping candidates are averaged by score, not just dropped."""
    order = np.argsort(-scores)
    boxes, kps, scores = boxes[order], kps[order], scores[order]
    out = []
    remaining = np.arange(len(scores))
    while remaining.size:
        first = remaining[0]
        overlap = _iou(boxes[first], boxes[remaining]) > iou
        members = remaining[overlap]
        w = scores[members][:, None]
        box = (boxes[members] * w).sum(0) / w.sum()
        kp = (kps[members] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, kp, float(scores[first])))
        remaining = remaining[~overlap]
    return out


class FaceDetector:
    """BlazeFace on a letterboxed RGB frame; returns detections in frame pixels."""

    def __init__(self, variant: Literal["short", "full"] = "short", threads: int = 1,
                 min_score: float | None = None):
        size, strides, per_cell, threshold = _SPECS[variant]
        self.variant, self.size = variant, size
        self.model: TfliteModel = load(f"blazeface_{variant}", threads)
        self.anchors = _anchors(size, strides, per_cell)
        self.min_score = threshold if min_score is None else min_score

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        h, w = rgb.shape[:2]
        side = max(h, w)
        # Letterbox: pad to a square so the model sees undistorted faces.
        pad_x, pad_y = (side - w) // 2, (side - h) // 2
        square = cv2.copyMakeBorder(rgb, pad_y, side - h - pad_y, pad_x, side - w - pad_x,
                                    cv2.BORDER_CONSTANT, value=(0, 0, 0))
        tensor = cv2.resize(square, (self.size, self.size), interpolation=cv2.INTER_AREA)
        tensor = tensor.astype(np.float32)[None] / 127.5 - 1.0
        regressors, logits = self.model.run(tensor)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0], -60, 60)))
        keep = scores > self.min_score
        if not keep.any():
            return []
        raw, anchors, scores = regressors[0, keep], self.anchors[keep], scores[keep]
        raw = raw / self.size
        centre = raw[:, 0:2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1) * side
        kps = (raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]) * side
        offset = np.array([pad_x, pad_y], dtype=np.float32)
        boxes -= np.tile(offset, 2)
        kps -= offset
        return [Detection(box=b, keypoints=k, score=s) for b, k, s in weighted_nms(boxes, kps, scores)]
