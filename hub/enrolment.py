"""Enrolment at the hub: photos -> templates (the devices' own model), encrypted at rest, galleries for devices.

Templates are biometric data (UU 27/2022, specific personal data): each vector is encrypted with Fernet
(AES-128-CBC + HMAC) under a key kept in a file outside the database; photos are not kept. Erasure
deletes an employee's templates, bumps the gallery version and pushes the new gallery to every device.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import delete, select

from edge.infer.gallery import Gallery
from edge.infer.pipeline import FacePipeline
from edge.infer.templates import PhotoReport, face_to_template
from hadir.contract import GalleryUpdate
from hadir.private_file import write_private
from hadir.sealed import seal_gallery
from hub.master import AuditLog, Base, GalleryVersion, MasterData, Template  # noqa: F401 - Template re-exported
from hub.photos import PhotoItem, PhotoRefused, decode_photo, photos_from_folder, photos_from_zip  # noqa: F401


def gallery_version(master: MasterData) -> int:
    """The current gallery version (0 before any enrolment), read without loading the face model."""
    Base.metadata.create_all(master.engine, tables=[GalleryVersion.__table__])
    with master.session() as s:
        row = s.get(GalleryVersion, 1)
        return row.version if row else 0


def bump_gallery_version(master: MasterData) -> int:
    """A new gallery version: devices replace theirs at the next push (enrolment, erasure, retention)."""
    with master.session() as s:
        row = s.get(GalleryVersion, 1)
        if row is None:
            row = GalleryVersion(id=1, version=0)
            s.add(row)
        row.version += 1
        return row.version


def template_key(path: Path) -> Fernet:
    """The template encryption key: a file (mode 600) beside, never inside, the database."""
    if not path.exists():
        write_private(path, Fernet.generate_key())
    return Fernet(path.read_bytes())


@dataclass
class Enrolment:
    master: MasterData
    fernet: Fernet
    pipeline: FacePipeline

    def __post_init__(self) -> None:
        Base.metadata.create_all(self.master.engine)

    # -- templates ---------------------------------------------------------------------------------------
    def add_photo(self, actor: str, nip: str, name: str, data: bytes) -> PhotoReport:
        try:
            rgb = decode_photo(data)  # the size is checked from the header before any pixel is decoded
        except PhotoRefused as exc:
            return PhotoReport(nip, name, False, str(exc))
        face, why = face_to_template(self.pipeline, rgb)
        if face is None:
            return PhotoReport(nip, name, False, why)
        with self.master.session() as s:
            s.add(Template(nip=nip, model_id=self.pipeline.model_id, quality=face.quality.score, source=name[:200],
                           vector=self.fernet.encrypt(face.embedding.astype("<f4").tobytes()),
                           created_at=datetime.now(timezone.utc)))
            s.add(AuditLog(at=datetime.now(timezone.utc), actor=actor, action="create", entity="template",
                           entity_id=nip, detail={"photo": name[:200], "model_id": self.pipeline.model_id}))
        return PhotoReport(nip, name, True, why)

    def erase(self, actor: str, nip: str) -> int:
        """UU 27/2022 erasure: delete every template of `nip` (the caller pushes new galleries)."""
        with self.master.session() as s:
            n = s.execute(delete(Template).where(Template.nip == nip)).rowcount
            s.add(AuditLog(at=datetime.now(timezone.utc), actor=actor, action="delete", entity="template",
                           entity_id=nip, detail={"templates": n, "reason": "erasure"}))
        return n

    def count(self, nip: str | None = None) -> int:
        with self.master.session() as s:
            q = select(Template)
            if nip:
                q = q.where(Template.nip == nip)
            return len(list(s.scalars(q)))

    # -- galleries -------------------------------------------------------------------------------------
    def bump_version(self) -> int:
        return bump_gallery_version(self.master)

    def version(self) -> int:
        with self.master.session() as s:
            row = s.get(GalleryVersion, 1)
            return row.version if row else 0

    def gallery(self, opd_code: str | None) -> Gallery:
        """Templates of the employees of `opd_code` (all when None), decrypted, for one device."""
        nips = {e.nip for e in self.master.employees(opd_code)}
        with self.master.session() as s:
            rows = [t for t in s.scalars(select(Template).where(Template.model_id == self.pipeline.model_id))
                    if t.nip in nips]
        dim = self.pipeline.embedder.dim
        vectors = [np.frombuffer(self.fernet.decrypt(t.vector), "<f4") for t in rows]
        matrix = np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)
        return Gallery(self.pipeline.model_id, self.version(), [t.nip for t in rows], matrix)

    def update_for(self, device_id: str, opd_code: str | None, recipient: X25519PublicKey) -> GalleryUpdate:
        """The gallery of `opd_code`, sealed for the device's X25519 key (the caller signs it)."""
        g = self.gallery(opd_code)
        return seal_gallery(device_id, max(1, g.version), g.model_id, list(g.ids),
                            g.templates.astype("<f4").tobytes(), g.dim, recipient)


def enrol_many(enrolment: Enrolment, actor: str, items: Iterable[PhotoItem | tuple[str, str, bytes]],
               progress: Callable[[], None] | None = None) -> list[PhotoReport]:
    """Enrol each photo; a report line for every item, refused ones with their reason."""
    known = {e.nip for e in enrolment.master.employees()}
    reports = []
    for item in items:
        if isinstance(item, tuple):
            nip, name, data = item
            item = PhotoItem(nip, name, read=lambda data=data: data)
        if item.refused or item.read is None:
            reports.append(PhotoReport(item.nip, item.name, False, item.refused or "nothing to read"))
        elif item.nip not in known:
            reports.append(PhotoReport(item.nip, item.name, False, f"NIP {item.nip} is not an employee in the "
                                                                   "master data"))
        else:
            try:
                data = item.read()
            except (PhotoRefused, OSError, zipfile.BadZipFile) as exc:
                reports.append(PhotoReport(item.nip, item.name, False, f"cannot be read: {exc}"))
            else:
                reports.append(enrolment.add_photo(actor, item.nip, item.name, data))
        if progress:
            progress()
    return reports
