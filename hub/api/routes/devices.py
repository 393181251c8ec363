"""Devices (state, last seen, outbox depth, gallery version, GPS) and the auditor's chain check."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from hadir.contract import _DEVICE_ID_RE
from hub.api.auth import Principal, current, require, scope_opd
from hub.api.errors import ApiError
from hub.api.schemas import IsoDateTime
from hub.audit import verify_chain

router = APIRouter()


@router.get("/devices", summary="Registered devices and their last known state")
def devices(request: Request, opd: str | None = None, p: Principal = Depends(current)) -> list[dict]:
    if p.role == "employee":
        raise ApiError(403, "forbidden", "devices are for OPD heads, IT staff and auditors")
    scope = scope_opd(p, opd)
    out = []
    for d in request.app.state.registry.all():
        if scope and d.opd != scope:
            continue
        out.append({"device_id": d.device_id, "opd": d.opd, "site": d.site, "revoked": d.revoked,
                    "state": d.state or "unknown", "online": d.state == "online", "last_seen": d.last_seen,
                    "outbox_depth": d.outbox_depth, "gallery_version": d.gallery_version, "gps": d.gps_state,
                    "held": d.held, "alarm": d.alarm})
    return out


@router.get("/audit/chain/{device_id}", summary="Verify a device's event chain over a range (auditor)")
def chain(device_id: str, request: Request, start: IsoDateTime | None = None, end: IsoDateTime | None = None,
          _: Principal = Depends(require("auditor", "admin"))) -> dict:
    if not _DEVICE_ID_RE.match(device_id):
        raise ApiError(422, "invalid", "device_id: not a valid device id", "device_id")
    if (start and start.tzinfo is None) or (end and end.tzinfo is None):
        raise ApiError(422, "invalid", "start/end: give a time zone (e.g. 2026-11-24T00:00:00+09:00)", "start")
    report = verify_chain(request.app.state.store, request.app.state.registry, device_id, start, end)
    return {"device_id": device_id, "intact": report.intact, "events": report.events, "first_seq": report.first_seq,
            "last_seq": report.last_seq, "break_seq": report.break_seq, "reason": report.reason,
            "status": report.status, "gaps_reported": list(report.gaps), "unannounced_epochs": list(report.unannounced),
            "summary": report.summary()}
