"""One frame in, analysed faces out: detect -> align -> quality -> embed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.infer.align import AlignmentTemplate
from edge.infer.detect import Detection, FaceDetector, MultiScaleDetector
from edge.infer.embed import Embedder
from edge.infer.quality import Quality, QualityLimits, assess

MAX_SIDE = 4096  # larger frames are downscaled first: a 10000 px photo must not exhaust memory


class BadImage(ValueError):
    """The frame cannot be analysed (empty, wrong shape or type)."""


@dataclass
class Face:
    detection: Detection
    quality: Quality
    chip: np.ndarray = field(repr=False)
    embedding: np.ndarray | None = field(default=None, repr=False)  # None: not embedded (quality refusal)
    mesh: np.ndarray | None = field(default=None, repr=False)  # 468 x 3 face-mesh points, for liveness


def check_frame(rgb: object) -> np.ndarray:
    if not isinstance(rgb, np.ndarray):
        raise BadImage(f"frame is a {type(rgb).__name__}, expected a numpy array")
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise BadImage(f"frame has shape {rgb.shape}, expected H x W x 3 (RGB)")
    if min(rgb.shape[:2]) < 8:
        raise BadImage(f"frame is {rgb.shape[1]}x{rgb.shape[0]} px, too small to hold a face")
    if rgb.dtype != np.uint8:
        raise BadImage(f"frame has dtype {rgb.dtype}, expected uint8")
    return rgb


DetectorChoice = Literal["auto", "short", "full", "both"]


class FacePipeline:
    """detector "auto" (default): short-range BlazeFace over the frame and tiles, faces from `min_face_px`
    at any resolution; "short" / "full" / "both": one pass of those models over the whole frame."""

    def __init__(self, detector: DetectorChoice = "auto", threads: int = 1, limits: QualityLimits | None = None,
                 mesh: bool = False, embedder: str = "dlib_resnet_v1", min_face_px: float = 40.0,
                 tiles_per_frame: int = 8):
        if detector == "auto":
            self.detectors: list[FaceDetector | MultiScaleDetector] = [
                MultiScaleDetector(min_face_px, threads, tiles_per_frame)]
        else:
            self.detectors = [FaceDetector(v, threads) for v in (["short", "full"] if detector == "both"
                                                                 else [detector])]
        self.embedder = Embedder(embedder, threads)
        self.template = AlignmentTemplate.for_model(self.embedder.model_id)
        self.limits = limits or QualityLimits()
        self.mesh = None
        if mesh:
            from edge.infer.liveness import FaceMesh

            self.mesh = FaceMesh(threads)

    @property
    def model_id(self) -> str:
        return self.embedder.model_id

    def detect(self, rgb: np.ndarray, stream: bool = True) -> list[Detection]:
        """Faces in a frame. `stream`: a frame of a video (the multi-scale detector then spreads its tiles
        over successive frames); False for a still photo (every tile searched)."""
        rgb = check_frame(rgb)
        found: list[Detection] = []
        for det in self.detectors:
            dets = det.detect(rgb, stream=stream) if isinstance(det, MultiScaleDetector) else det.detect(rgb)
            for d in dets:
                # With both detectors, keep one detection per face.
                if all(np.linalg.norm(d.centre - f.centre) > 0.3 * f.size for f in found):
                    found.append(d)
        return found

    def analyse_detection(self, rgb: np.ndarray, detection: Detection, embed: bool = True) -> Face:
        chip = self.template.align(rgb, detection.keypoints)
        quality = assess(detection, chip, self.limits)
        embedding = self.embedder.embed(chip) if embed and quality.usable else None
        mesh = self.mesh.landmarks(rgb, detection.box)[0] if self.mesh is not None and embedding is not None else None
        return Face(detection, quality, chip, embedding, mesh)

    def analyse(self, rgb: np.ndarray) -> list[Face]:
        rgb = check_frame(rgb)
        scale = 1.0
        if max(rgb.shape[:2]) > MAX_SIDE:
            import cv2

            scale = MAX_SIDE / max(rgb.shape[:2])
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return [self.analyse_detection(rgb, d) for d in self.detect(rgb, stream=False)]
