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

    def detect(self, rgb: np.ndarray, min_score: float | None = None) -> list[Detection]:
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
        keep = scores > (self.min_score if min_score is None else min_score)
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


# The short-range model finds faces reliably when they fill about 0.16-0.6 of its (square) window; measured
# on lfw-dev faces pasted at known sizes (docs/accuracy.md). Each level of windows covers
# [_MIN_FRACTION, _MAX_FRACTION] of its side, and tiles of a level overlap by _MAX_FRACTION so that every
# face of that range lies wholly inside at least one tile.
_MIN_FRACTION, _MAX_FRACTION = 0.17, 0.4
# Many tiles mean many chances for background texture (lettering, foliage) to pass as a face: tiles ask
# for more confidence than the whole frame; 40 px faces at 1280x720 still pass 94 % of the time (0.5: 96 %).
_TILE_MIN_SCORE = 0.6


@dataclass(frozen=True)
class Window:
    x: int
    y: int
    side: int  # the window is side x side (clipped to the frame for the whole-frame window)


def windows_for(width: int, height: int, min_face_px: float) -> list[Window]:
    """The whole frame, then levels of square tiles, each level half as far again down in face size, until
    faces of `min_face_px` fill _MIN_FRACTION of a tile."""
    out = [Window(0, 0, max(width, height))]
    smallest = out[0].side * _MIN_FRACTION  # smallest face the levels so far find
    side = out[0].side
    final = int(np.ceil(min_face_px / _MIN_FRACTION))  # tile side at which the smallest face is found
    while smallest > 1.1 * min_face_px:  # 10 % below the detector's sweet spot is still found (measured)
        # Go straight to the final level when its tiles can also hold the largest face left (up to half
        # their side, still well inside the model's range); otherwise step down one level.
        side = final if smallest <= 0.5 * final else int(smallest / _MAX_FRACTION)
        side = min(side, min(width, height))  # a square tile must fit in the frame
        # Every face up to `smallest` (larger ones are found by the level above) fits wholly in some tile.
        step = max(1, int(side - min(smallest, 0.5 * side)))
        out += [Window(x, y, side) for y in _positions(height, side, step) for x in _positions(width, side, step)]
        if side == final or side * _MIN_FRACTION >= smallest:  # done, or the frame allows no finer level
            break
        smallest = side * _MIN_FRACTION
    return out


def _positions(length: int, side: int, step: int) -> list[int]:
    if side >= length:
        return [0]
    n = int(np.ceil((length - side) / step)) + 1
    return [int(round(i * (length - side) / (n - 1))) for i in range(n)]


def _touches_inner_edge(det: Detection, win: Window, width: int, height: int, tol: float = 0.02) -> bool:
    """A face cut by a tile's edge (an edge inside the frame) is a partial view: the tile next to it, or
    the level above, sees it whole."""
    x1, y1, x2, y2 = det.box
    pad = tol * win.side
    return bool((win.x > 0 and x1 < win.x + pad) or (win.y > 0 and y1 < win.y + pad)
                or (win.x + win.side < width and x2 > win.x + win.side - pad)
                or (win.y + win.side < height and y2 > win.y + win.side - pad))


class MultiScaleDetector:
    """BlazeFace short range over the whole frame and over tiles, so that faces down to `min_face_px`
    are found at any resolution (640x480, 1280x720, ...).

    For a still photo every window is searched. In a video (`stream=True`) one frame searches the whole
    frame, a window around each face seen in the previous frame (a face keeps being found as it moves)
    and the next `tiles_per_frame` tiles in turn: the tiles of a 1280x720 frame are all visited every
    few frames instead of costing tens of milliseconds on every frame.
    """

    def __init__(self, min_face_px: float = 40.0, threads: int = 1, tiles_per_frame: int = 8):
        self.base = FaceDetector("short", threads)
        self.min_face_px, self.tiles_per_frame = float(min_face_px), int(tiles_per_frame)
        self._windows: dict[tuple[int, int], list[Window]] = {}
        self._next_tile = 0
        self._previous: list[Detection] = []

    @property
    def variant(self) -> str:
        return "auto"

    def windows(self, width: int, height: int) -> list[Window]:
        key = (width, height)
        if key not in self._windows:
            self._windows[key] = windows_for(width, height, self.min_face_px)
        return self._windows[key]

    def detect(self, rgb: np.ndarray, stream: bool = False) -> list[Detection]:
        h, w = rgb.shape[:2]
        every = self.windows(w, h)
        if stream:
            tiles = every[1:]
            chosen = [every[0]]
            if tiles:
                n = min(self.tiles_per_frame, len(tiles))
                chosen += [tiles[(self._next_tile + i) % len(tiles)] for i in range(n)]
                self._next_tile = (self._next_tile + n) % len(tiles)
            around = [self._around(d, w, h) for d in self._previous]
        else:
            chosen, around = every, []
        found: list[Detection] = []
        from_tiles: set[int] = set()
        for i, win in enumerate(chosen + around):
            whole = win.x == 0 and win.y == 0 and win.side >= max(w, h)
            crop = rgb if whole else rgb[win.y:win.y + win.side, win.x:win.x + win.side]
            if min(crop.shape[:2]) < 8:
                continue
            offset = np.array([win.x, win.y], dtype=np.float32)
            # A face already seen (window around it) keeps the model's own threshold, as the whole frame.
            tile = not whole and i < len(chosen)
            for d in self.base.detect(crop, max(self.base.min_score, _TILE_MIN_SCORE) if tile else None):
                det = Detection(d.box + np.tile(offset, 2), d.keypoints + offset, d.score)
                if whole or not _touches_inner_edge(det, win, w, h):
                    found.append(det)
                    if tile:
                        from_tiles.add(id(det))
        result = [d for d in _suppress(found) if id(d) not in from_tiles or self._confirmed(rgb, d)]
        if stream:
            self._previous = result
        return result

    def _confirmed(self, rgb: np.ndarray, det: Detection) -> bool:
        """A face found in a tile is searched again in a window centred on it, where it fills about 0.3
        of the side (the model's sweet spot). Real faces are found again (40 px faces at 1280x720: score
        0.81 or more); the chests, necks and lettering that a tile sometimes takes for a face are not
        (0.0-0.36 on the demo photos)."""
        h, w = rgb.shape[:2]
        win = self._around(det, w, h)
        crop = rgb[win.y:win.y + win.side, win.x:win.x + win.side]
        centre = det.centre - np.array([win.x, win.y], dtype=np.float32)
        return any(np.linalg.norm(d.centre - centre) < 0.5 * det.size
                   for d in self.base.detect(crop, max(self.base.min_score, _TILE_MIN_SCORE)))

    @staticmethod
    def _around(det: Detection, width: int, height: int) -> Window:
        """A square window in which the face fills about 0.3 of the side, shifted to stay in the frame."""
        side = int(min(max(det.size / 0.3, 64), min(width, height)))
        cx, cy = det.centre
        x = int(np.clip(cx - side / 2, 0, width - side))
        y = int(np.clip(cy - side / 2, 0, height - side))
        return Window(x, y, side)


def _suppress(found: list[Detection], iou: float = 0.3) -> list[Detection]:
    """One detection per face across windows: the most confident wins (no averaging: a face seen in two
    windows gives two full views, and averaging keypoints of different windows only blurs them). A
    smaller detection centred inside a larger one is a part of that face seen by a tile (the chin and
    mouth of a face cut by the tile's edge), not another face."""
    found = sorted(found, key=lambda d: -d.score)
    kept: list[Detection] = []
    for d in found:
        if not kept or (_iou(d.box, np.stack([k.box for k in kept])) <= iou).all():
            kept.append(d)
    by_size = sorted(kept, key=lambda d: -d.size)
    out: list[Detection] = []
    for d in by_size:
        cx, cy = d.centre
        if not any(o.box[0] <= cx <= o.box[2] and o.box[1] <= cy <= o.box[3] for o in out):
            out.append(d)
    return sorted(out, key=lambda d: -d.score)
