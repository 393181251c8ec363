"""Enrolment at the hub: photos -> templates (the devices' own model), encrypted at rest, galleries for devices.

Templates are biometric data (UU 27/2022, specific personal data): each vector is encrypted with Fernet
(AES-128-CBC + HMAC) under a key kept in a file outside the database; photos are not kept. Erasure
deletes an employee's templates, bumps the gallery version and pushes the new gallery to every device.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy import DateTime, Float, Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from edge.enroll import PhotoReport, best_face
from edge.infer.gallery import Gallery
from edge.infer.pipeline import FacePipeline
from hadir.contract import GalleryUpdate
from hadir.sealed import seal_gallery
from hub.master import AuditLog, Base, MasterData


class Template(Base):
    __tablename__ = "template"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    nip: Mapped[str] = mapped_column(String(32), index=True)
    model_id: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token of float32 bytes
    quality: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(200))  # photo file name, for the quality report only
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GalleryVersion(Base):
    __tablename__ = "gallery_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


def template_key(path: Path) -> Fernet:
    """The template encryption key: a file (mode 600) beside, never inside, the database."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(Fernet.generate_key())
    return Fernet(path.read_bytes())


def _decode_image(data: bytes) -> np.ndarray | None:
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return None if arr is None else cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


@dataclass
class Enrolment:
    master: MasterData
    fernet: Fernet
    pipeline: FacePipeline

    def __post_init__(self) -> None:
        Base.metadata.create_all(self.master.engine)

    # -- templates ---------------------------------------------------------------------------------------
    def add_photo(self, actor: str, nip: str, name: str, data: bytes) -> PhotoReport:
        face, why = best_face(self.pipeline, _decode_image(data))
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
        with self.master.session() as s:
            row = s.get(GalleryVersion, 1)
            if row is None:
                row = GalleryVersion(id=1, version=0)
                s.add(row)
            row.version += 1
            return row.version

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


def photos_from_zip(data: bytes) -> list[tuple[str, str, bytes]]:
    """A ZIP with photos and an `nip.csv` (columns: file, nip) -> [(nip, file name, bytes)]."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = {n.rsplit("/", 1)[-1]: n for n in zf.namelist() if not n.endswith("/")}
        if "nip.csv" not in names:
            raise ValueError("the ZIP has no nip.csv (columns: file,nip)")
        rows = list(csv.DictReader(io.StringIO(zf.read(names["nip.csv"]).decode("utf-8-sig"))))
        out = []
        for i, row in enumerate(rows, start=2):
            if not row.get("file") or not row.get("nip"):
                raise ValueError(f"nip.csv line {i}: needs 'file' and 'nip'")
            if row["file"] not in names:
                raise ValueError(f"nip.csv line {i}: {row['file']} is not in the ZIP")
            out.append((row["nip"].strip(), row["file"], zf.read(names[row["file"]])))
    return out


def photos_from_folder(folder: Path) -> list[tuple[str, str, bytes]]:
    from edge.enroll import photos_by_person

    return [(nip, p.name, p.read_bytes()) for nip, paths in photos_by_person(folder).items() for p in paths]


def enrol_many(enrolment: Enrolment, actor: str, items: list[tuple[str, str, bytes]],
               progress: Callable[[], None] | None = None) -> list[PhotoReport]:
    known = {e.nip for e in enrolment.master.employees()}
    reports = []
    for nip, name, data in items:
        if nip not in known:
            reports.append(PhotoReport(nip, name, False, f"NIP {nip} is not an employee in the master data"))
        else:
            reports.append(enrolment.add_photo(actor, nip, name, data))
        if progress:
            progress()
    return reports
