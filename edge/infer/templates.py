"""Face to template: the one rule, shared by device and hub enrolment, that turns a photo into a template."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.infer.pipeline import BadImage, Face, FacePipeline


@dataclass(frozen=True)
class PhotoReport:
    """What became of one enrolment photo."""

    employee_id: str
    path: str
    accepted: bool
    reason: str  # why refused, or a short quality summary when accepted


def face_to_template(pipeline: FacePipeline, rgb: np.ndarray | None) -> tuple[Face | None, str]:
    """The one enrolable face of an RGB photo (HxWx3 uint8), or None and why there is none.

    The face's `embedding` is the L2-normalised template of `pipeline.model_id`. A photo with two faces of
    similar size is refused (whose face would it be?); a much smaller second face is ignored.
    """
    if rgb is None:
        return None, "not a readable image"
    try:
        faces = pipeline.analyse(rgb)
    except BadImage as exc:
        return None, str(exc)
    if not faces:
        return None, "no face found"
    if len(faces) > 1:
        sizes = sorted((f.detection.size for f in faces), reverse=True)
        if sizes[1] > 0.6 * sizes[0]:
            return None, f"{len(faces)} faces of similar size: use a photo of one person"
    face = max(faces, key=lambda f: f.detection.size)
    if face.embedding is None or not face.quality.ok:  # enrolment keeps the strict gates
        return None, "; ".join(face.quality.reasons)
    q = face.quality
    return face, f"ok (eyes {q.eye_distance_px:.0f} px, sharpness {q.sharpness:.0f}, yaw {q.yaw:.2f})"
