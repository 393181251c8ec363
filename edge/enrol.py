"""Enrolment on the device: a folder of photos of each employee -> quality-checked templates -> a gallery."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.capture.folder_source import read_rgb
from edge.infer.gallery import Gallery
from edge.infer.pipeline import FacePipeline
from edge.infer.templates import PhotoReport, face_to_template


def template_from_photo(pipeline: FacePipeline, path: Path) -> tuple[np.ndarray | None, str]:
    """The template (1-D float32, unit length) of the photo at `path`, or None and why it was refused."""
    face, why = face_to_template(pipeline, read_rgb(path))
    return (face.embedding if face else None), why


def enrol(pipeline: FacePipeline, photos: dict[str, list[Path]], version: int = 1,
          progress: Callable[[], None] | None = None) -> tuple[Gallery, list[PhotoReport]]:
    """Templates of every usable photo ({NIP: paths}) as a gallery of `version`, and a report per photo."""
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
