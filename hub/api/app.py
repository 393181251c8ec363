"""The hub API for OPD dashboards, the payroll office, IT staff and auditors (FastAPI, OpenAPI at /docs)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from hub.api import errors
from hub.api.routes import attendance, devices, review, stream, system
from hub.api.routes import enrolment as enrolment_routes
from hub.api.routes import master as master_routes
from hub.attendance import Attendance
from hub.enrolment import Enrolment
from hub.ingest.metrics import IngestMetrics
from hub.live import Broadcaster
from hub.master import MasterData
from hub.registry import DeviceRegistry
from hub.store.base import EventStore
from hub.tpp.policy import Policy


def api_secret(data_dir: Path) -> bytes:
    """The token-signing key: a file beside the hub's data, made once, readable by the hub only."""
    path = data_dir / "api.secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(secrets.token_bytes(32))
    return path.read_bytes()


def create_app(*, store: EventStore, master: MasterData, registry: DeviceRegistry, policy: Policy,
               metrics: IngestMetrics, secret: bytes, broadcaster: Broadcaster | None = None,
               enrolment: Callable[[], Enrolment] | None = None,
               push_galleries: Callable[[], int] | None = None) -> FastAPI:
    app = FastAPI(title="Hadir hub API", version="1",
                  description="Attendance and TPP for Pemerintah Kota Ambon. Times in WIT (Asia/Jayapura); "
                              "labels for officers in Bahasa Indonesia.")
    app.state.store, app.state.master, app.state.registry = store, master, registry
    app.state.policy, app.state.metrics, app.state.secret = policy, metrics, secret
    app.state.attendance = Attendance(store, master, policy)
    app.state.broadcaster = broadcaster or Broadcaster()
    app.state.enrolment, app.state.push_galleries = enrolment, push_galleries or (lambda: 0)
    errors.install(app)
    for module in (system, master_routes, enrolment_routes, attendance, devices, review, stream):
        app.include_router(module.router)
    return app
