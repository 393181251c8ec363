"""Apply a gallery pushed by the hub: check the embedder, save it atomically, swap it into the decider."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import numpy as np

from edge.decide.visits import VisitDecider
from edge.infer.gallery import Gallery
from hadir.contract import GalleryUpdate

log = logging.getLogger(__name__)


def gallery_from_update(update: GalleryUpdate) -> Gallery:
    raw = base64.b64decode(update.templates_b64, validate=True)
    matrix = np.frombuffer(raw, "<f4")
    if matrix.size != len(update.ids) * update.dim:
        raise ValueError(f"gallery {update.version}: {matrix.size} floats for {len(update.ids)} x {update.dim}")
    return Gallery(update.model_id, update.version, list(update.ids), matrix.reshape(len(update.ids), update.dim))


def apply_update(update: GalleryUpdate, decider: VisitDecider, path: Path | None) -> bool:
    """True when applied. A gallery of another embedder is refused: comparing across models is meaningless."""
    if update.model_id != decider.model_id:
        log.error("gallery %d is for model %s, this device runs %s: refused", update.version, update.model_id,
                  decider.model_id)
        return False
    if update.version < decider.gallery.version:
        log.warning("gallery %d is older than the one in use (%d): ignored", update.version, decider.gallery.version)
        return False
    try:
        gallery = gallery_from_update(update)
    except ValueError as exc:
        log.error("gallery refused: %s", exc)
        return False
    if path is not None:
        gallery.save(path)
    decider.gallery = gallery  # one reference swap: the next frame searches the new gallery
    log.info("gallery v%d applied: %d templates of %d people (model %s)", gallery.version, len(gallery),
             len(set(gallery.ids)), gallery.model_id)
    return True
