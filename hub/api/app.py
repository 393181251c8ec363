"""The hub API for OPD dashboards, the payroll office, IT staff and auditors (FastAPI, OpenAPI at /docs)."""

from __future__ import annotations

import gc
import logging
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path

from fastapi import FastAPI

from hub.api import errors
from hub.api.auth import TokenChecks
from hub.api.guard import RequestGuard
from hub.api.openapi import document_errors
from hub.api.pages import install_docs
from hub.api.routes import app_views, attendance, calendar, corrections, devices, review, stream, system, users, webapp
from hub.api.routes import enrolment as enrolment_routes
from hub.api.routes import master as master_routes
from hub.api.throttle import LoginThrottle
from hub.attendance import Attendance
from hub.config import MapSettings
from hub.enrolment import Enrolment
from hub.ingest.metrics import IngestMetrics
from hub.ingest.quarantine import Quarantine
from hub.live import Broadcaster
from hub.master import MasterData
from hub.payroll.policy_file import load_policy
from hub.registry import DeviceRegistry
from hub.results import LiveResults
from hub.service import Hub, scrape_token
from hub.store.base import EventStore
from hub.tpp.policy import Policy

# `hadir-hub run` passes its config file to the app factory (uvicorn imports the API, the CLI does not).
CONFIG_ENV = "HADIR_HUB_CONFIG"
log = logging.getLogger("hadir.hub.api")


def system_clock() -> datetime:
    """Now, in UTC: the API's default clock (tests inject a fixed one)."""
    return datetime.now(timezone.utc)


def api_secret(data_dir: Path) -> bytes:
    """The token-signing key: a file beside the hub's data, made once, readable by the hub only."""
    path = data_dir / "api.secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_bytes(secrets.token_bytes(32))
    return path.read_bytes()


def settle_memory() -> None:
    """Once the hub has started: move every object made so far (libraries, the app, master data) out of the
    garbage collector's sight. They stay for the life of the process, and a full collection, which stops
    every request while it runs, then walks only what came after (on a city of 6,000: 137,000 objects at
    start, a full collection 60-84 ms before and under 1 ms after; bench/api.py measures the pauses)."""
    gc.collect()
    gc.freeze()


def create_app(*, store: EventStore, master: MasterData, registry: DeviceRegistry, policy: Policy,
               metrics: IngestMetrics, secret: bytes, broadcaster: Broadcaster | None = None,
               enrolment: Callable[[], Enrolment] | None = None,
               push_galleries: Callable[[], int] | None = None, quarantine: Quarantine | None = None,
               map_settings: MapSettings | None = None, max_body_bytes: int = 25_000_000,
               metrics_token: str | None = None, clock: Callable[[], datetime] = system_clock) -> FastAPI:
    """The API and web app over the hub's stores. `metrics_token`: a fixed credential Prometheus may present at
    /metrics. `clock` gives the moment of each request (time zone aware): what "today" is for the board, provisional
    months, the PP 94 year so far and the web app's results; tests set it. Feed `app.state.results.on_stored`
    with every stored event."""
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            app.state.results.close()  # its background thread

    app = FastAPI(title="Hadir hub API", version="1", docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Attendance and TPP for Pemerintah Kota Ambon. Times in WIT (Asia/Jayapura); "
                              "labels for officers in Bahasa Indonesia.")
    app.state.store, app.state.master, app.state.registry = store, master, registry
    app.state.policy, app.state.metrics, app.state.secret = policy, metrics, secret
    app.state.tokens = TokenChecks(master, secret)
    app.state.attendance = Attendance(store, master, policy)
    app.state.clock = clock
    ramadan = app.state.attendance.ramadan(clock().astimezone(app.state.attendance.tz).date())
    if ramadan.warning:
        log.warning("%s (%s)", ramadan.warning, ramadan.admin_hint)
    app.state.broadcaster = broadcaster or Broadcaster()
    app.state.enrolment, app.state.push_galleries = enrolment, push_galleries or (lambda: 0)
    app.state.quarantine, app.state.map_settings = quarantine, map_settings or MapSettings()
    app.state.results = LiveResults(app.state.attendance, registry, clock=clock)
    app.state.metrics_token = metrics_token
    app.state.login_throttle = LoginThrottle()
    app.state.stream_recheck_s = 5.0  # how soon a live stream notices that its token ended
    errors.install(app)
    for module in (system, users, master_routes, corrections, enrolment_routes, attendance, calendar, devices,
                   review, stream, app_views):
        app.include_router(document_errors(module.router))
    webapp.install(app)
    install_docs(app)

    app.add_middleware(RequestGuard, max_body_bytes=max_body_bytes, authenticate=app.state.tokens.check)
    return app


def app_for_hub(hub: Hub) -> FastAPI:
    """The API over a constructed hub's store, master data, registry and live stream; the web app's results
    follow every event the hub stores."""
    app = create_app(store=hub.store, master=hub.master, registry=hub.registry,
                     policy=load_policy(hub.settings.policy), metrics=hub.metrics,
                     secret=api_secret(hub.settings.data_dir), broadcaster=hub.broadcaster,
                     enrolment=lambda: hub.enrolment, push_galleries=hub.push_galleries, quarantine=hub.quarantine,
                     map_settings=hub.settings.map, max_body_bytes=hub.settings.api_max_body_mb * 1_000_000,
                     metrics_token=scrape_token(hub.settings.data_dir))
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
        settle_memory()
        log.info("hub running: broker %s:%s, store %s, data in %s", hub.mqtt.host, hub.mqtt.port, settings.store,
                 settings.data_dir)
        try:
            yield
        finally:
            app.state.results.close()
            hub.stop()

    app = app_for_hub(hub)
    app.router.lifespan_context = lifespan
    return app
