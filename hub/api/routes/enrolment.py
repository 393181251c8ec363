"""Enrolment (photos -> encrypted templates -> galleries pushed to devices) and biometric erasure."""

import base64
import binascii

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Principal, require
from hub.api.errors import ApiError
from hub.enrolment import enrol_many

router = APIRouter()


class Photo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    data_b64: str = Field(min_length=4, max_length=24_000_000, pattern=r"^[A-Za-z0-9+/]+={0,2}$",
                          description="the photo's bytes (JPEG, PNG, HEIC, TIFF, WebP), base64; the whole "
                                      "request is at most 25 MB")


class PhotosIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    photos: list[Photo] = Field(min_length=1, max_length=20)


def _enrolment(request: Request):
    factory = request.app.state.enrolment
    if factory is None:
        raise ApiError(503, "unavailable", "enrolment is not configured on this hub")
    return factory()


def _known(request: Request, nip: str) -> None:
    if request.app.state.master.employee(nip) is None:
        raise ApiError(404, "not_found", f"no employee with NIP {nip}", "nip")


@router.post("/employees/{nip}/photos", summary="Enrol photos of an employee (admin); galleries are pushed")
def enrol(nip: str, body: PhotosIn, request: Request, p: Principal = Depends(require("admin"))) -> dict:
    _known(request, nip)
    items = []
    for photo in body.photos:
        try:
            items.append((nip, photo.name, base64.b64decode(photo.data_b64, validate=True)))
        except (binascii.Error, ValueError):
            raise ApiError(422, "invalid", f"photos.data_b64: {photo.name} is not valid base64",
                           "photos.data_b64") from None
    enrolment = _enrolment(request)
    reports = enrol_many(enrolment, p.username, items)
    accepted = sum(r.accepted for r in reports)
    version = enrolment.bump_version() if accepted else enrolment.version()
    pushed = request.app.state.push_galleries() if accepted else 0
    return {"nip": nip, "diterima": accepted, "gallery_version": version, "perangkat_diperbarui": pushed,
            "laporan": [{"foto": r.path, "diterima": r.accepted, "keterangan": r.reason} for r in reports]}


@router.delete("/employees/{nip}/biometrics", summary="Erase an employee's biometric templates everywhere (admin)")
def erase(nip: str, request: Request, p: Principal = Depends(require("admin"))) -> dict:
    _known(request, nip)
    enrolment = _enrolment(request)
    removed = enrolment.erase(p.username, nip)
    version = enrolment.bump_version()
    pushed = request.app.state.push_galleries()
    return {"nip": nip, "templat_dihapus": removed, "gallery_version": version, "perangkat_diperbarui": pushed}


@router.post("/devices/galleries/push", summary="Send every device the current gallery of its OPD (admin)")
def push(request: Request, _: Principal = Depends(require("admin"))) -> dict:
    version = _enrolment(request).version()
    return {"gallery_version": version, "perangkat_diperbarui": request.app.state.push_galleries()}
