"""The hub API for OPD dashboards, the payroll office, IT staff and auditors (FastAPI, OpenAPI at /docs)."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from hub.api import errors
from hub.api.routes import app_views, attendance, devices, review, stream, system, webapp
from hub.api.routes import enrolment as enrolment_routes
from hub.api.routes import master as master_routes
from hub.attendance import Attendance
from hub.config import MapSettings
from hub.enrolment import Enrolment
from hub.ingest.metrics import IngestMetrics
from hub.ingest.quarantine import Quarantine
from hub.live import Broadcaster
from hub.master import MasterData
from hub.registry import DeviceRegistry
from hub.results import LiveResults
from hub.service import Hub
from hub.store.base import EventStore
from hub.tpp.policy import Policy, load_policy

log = logging.getLogger(__name__)
# `hadir-hub run` passes its config file to the app factory (uvicorn imports the API, the CLI does not).
CONFIG_ENV = "HADIR_HUB_CONFIG"


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
               push_galleries: Callable[[], int] | None = None, quarantine: Quarantine | None = None,
               map_settings: MapSettings | None = None, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The API and web app over a hub's stores. `clock` (UTC, zone-aware) is the moment "now" of the board
    and the month; tests set it. Feed `app.state.results.on_stored` with every stored event."""
    app = FastAPI(title="Hadir hub API", version="1",
                  description="Attendance and TPP for Pemerintah Kota Ambon. Times in WIT (Asia/Jayapura); "
                              "labels for officers in Bahasa Indonesia.")
    app.state.store, app.state.master, app.state.registry = store, master, registry
    app.state.policy, app.state.metrics, app.state.secret = policy, metrics, secret
    app.state.attendance = Attendance(store, master, policy)
    app.state.broadcaster = broadcaster or Broadcaster()
    app.state.enrolment, app.state.push_galleries = enrolment, push_galleries or (lambda: 0)
    app.state.quarantine, app.state.map_settings = quarantine, map_settings or MapSettings()
    app.state.results = LiveResults(app.state.attendance, registry, clock=clock)
    errors.install(app)
    for module in (system, master_routes, enrolment_routes, attendance, devices, stream, app_views, review):
        app.include_router(module.router)
    webapp.install(app)
    return app


def app_for_hub(hub: Hub) -> FastAPI:
    """The API over a constructed hub's store, master data, registry and live stream; the web app's results
    follow every event the hub stores."""
    app = create_app(store=hub.store, master=hub.master, registry=hub.registry,
                     policy=load_policy(hub.settings.policy), metrics=hub.metrics,
                     secret=api_secret(hub.settings.data_dir), broadcaster=hub.broadcaster,
                     enrolment=lambda: hub.enrolment, push_galleries=hub.push_galleries, quarantine=hub.quarantine,
                     map_settings=hub.settings.map)
    hub.add_listener(app.state.results.on_stored)
    return app


def running_hub_app() -> FastAPI:
    """uvicorn factory for `hadir-hub run`: builds the hub from the config file and runs it for the app's life."""
    from hadir.settings import load_settings
    from hub.config import HubSettings

    config = os.environ.get(CONFIG_ENV)
    settings = load_settings(HubSettings, Path(config) if config else None)
    hub = Hub(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        hub.start()
        log.info("hub running: broker %s:%s, store %s, data in %s", hub.mqtt.host, hub.mqtt.port, settings.store,
                 settings.data_dir)
        try:
            yield
        finally:
            hub.stop()

    app = app_for_hub(hub)
    app.router.lifespan_context = lifespan
    return app
