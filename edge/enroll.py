"""Enrolment: photos of each employee -> quality-checked templates -> a gallery."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.capture.folder_source import IMAGE_SUFFIXES, read_rgb
from edge.infer.gallery import Gallery
from edge.infer.pipeline import BadImage, Face, FacePipeline


@dataclass(frozen=True)
class PhotoReport:
    employee_id: str
    path: str
    accepted: bool
    reason: str  # why refused, or a short quality summary when accepted


def photos_by_person(folder: Path) -> dict[str, list[Path]]:
    """A folder with one sub-folder per employee id (NIP), photos inside."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"enrolment folder {folder} does not exist")
    out = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        photos = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if photos:
            out[sub.name] = photos
    return out


def best_face(pipeline: FacePipeline, rgb: np.ndarray | None) -> tuple[Face | None, str]:
    """The one enrolable face of a photo, or why there is none. The same rules on device and hub."""
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


def template_from_photo(pipeline: FacePipeline, path: Path) -> tuple[np.ndarray | None, str]:
    face, why = best_face(pipeline, read_rgb(path))
    return (face.embedding if face else None), why


def enroll(pipeline: FacePipeline, photos: dict[str, list[Path]], version: int = 1,
           progress: Callable[[], None] | None = None) -> tuple[Gallery, list[PhotoReport]]:
    ids, templates, report = [], [], []
    for employee_id, paths in photos.items():
        for path in paths:
            emb, why = template_from_photo(pipeline, path)
            report.append(PhotoReport(employee_id, str(path), emb is not None, why))
            if emb is not None:
                ids.append(employee_id)
                templates.append(emb)
            if progress:
                progress()
    dim = pipeline.embedder.dim
    matrix = np.stack(templates) if templates else np.zeros((0, int(dim)), dtype=np.float32)
    return Gallery(pipeline.model_id, version, ids, matrix), report
