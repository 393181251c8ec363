"""Apply a gallery pushed by the hub: decrypt it, check the embedder, save it atomically, swap it in.

The link has already checked the hub's signature; the templates and NIPs inside are sealed for this
device's own X25519 key (see hadir/sealed.py), so nobody else on the broker can read them.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from edge.decide.visits import VisitDecider
from edge.infer.gallery import Gallery
from hadir.contract import GalleryUpdate
from hadir.sealed import gallery_aad as _aad
from hadir.sealed import open_sealed

log = logging.getLogger(__name__)


def gallery_aad(update: GalleryUpdate) -> bytes:
    return _aad(update.device_id, update.version, update.model_id, update.dim, update.count)


def gallery_from_update(update: GalleryUpdate, box_key: X25519PrivateKey) -> Gallery:
    """Decrypt and check one update; ValueError says what is wrong."""
    plain = open_sealed(update.epk_b64, update.nonce_b64, update.ciphertext_b64, box_key, gallery_aad(update))
    try:
        content = json.loads(plain)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"gallery {update.version}: content is not JSON ({type(exc).__name__})") from None
    ids, b64 = (content.get("ids"), content.get("templates_b64")) if isinstance(content, dict) else (None, None)
    if not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= 32 for i in ids) \
            or not isinstance(b64, str) or len(ids) != update.count:
        raise ValueError(f"gallery {update.version}: content does not have {update.count} ids and templates")
    matrix = np.frombuffer(base64.b64decode(b64, validate=True), "<f4")
    if matrix.size != len(ids) * update.dim:
        raise ValueError(f"gallery {update.version}: {matrix.size} floats for {len(ids)} x {update.dim}")
    return Gallery(update.model_id, update.version, ids, matrix.reshape(len(ids), update.dim))


def apply_update(update: GalleryUpdate, decider: VisitDecider, path: Path | None,
                 box_key: X25519PrivateKey) -> bool:
    """True when applied. A gallery of another embedder is refused: comparing across models is meaningless."""
    if update.model_id != decider.model_id:
        log.error("gallery %d is for model %s, this device runs %s: refused", update.version, update.model_id,
                  decider.model_id)
        return False
    if update.version < decider.gallery.version:
        log.warning("gallery %d is older than the one in use (%d): ignored", update.version, decider.gallery.version)
        return False
    try:
        gallery = gallery_from_update(update, box_key)
    except ValueError as exc:
        log.error("gallery refused: %s", exc)
        return False
    if path is not None:
        gallery.save(path)
    decider.gallery = gallery  # one reference swap: the next frame searches the new gallery
    log.info("gallery v%d applied: %d templates of %d people (model %s)", gallery.version, len(gallery),
             len(set(gallery.ids)), gallery.model_id)
    return True
