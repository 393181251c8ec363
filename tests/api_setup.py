"""A hub API over seeded master data (two OPDs, three employees, one user per role) for the API tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

from fastapi.testclient import TestClient
from helpers import event

from hadir.signing import new_key, public_key_b64
from hadir.wit import WIT
from hub.api.app import create_app
from hub.ingest.metrics import IngestMetrics
from hub.live import Broadcaster
from hub.master import Employee, MasterData, Opd, User, hash_password
from hub.payroll.policy_file import load_policy
from hub.registry import DeviceRegistry
from hub.store.base import StoredEvent
from hub.store.sqlite_store import SqliteEventStore

DAY = date(2026, 11, 24)  # a Tuesday
A, B, C = "198703122010011001", "199002052015032002", "198811202014021003"  # A, B in DINKES; C in DISDIK
PASSWORD = "rahasia-123"
PASSWORD_HASH = hash_password(PASSWORD)  # argon2id is slow on purpose: hash once for every fixture


def at(hhmm: str, day: date = DAY) -> datetime:
    return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), WIT).astimezone(timezone.utc)


@contextmanager
def api_client(tmp_path: Path, **app_options) -> Iterator[TestClient]:
    """A TestClient with `.master`, `.broadcaster` and `.key` (the signing key of pi-dinkes-01)."""
    store = SqliteEventStore(tmp_path / "events.sqlite")
    master = MasterData(f"sqlite:///{tmp_path / 'master.sqlite'}")
    registry = DeviceRegistry.in_dir(tmp_path)
    master.add("setup", Opd(code="DINKES", name="Dinas Kesehatan"))
    master.add("setup", Opd(code="DISDIK", name="Dinas Pendidikan"))
    for nip, name, opd in ((A, "Ani", "DINKES"), (B, "Budi", "DINKES"), (C, "Citra", "DISDIK")):
        master.add("setup", Employee(nip=nip, name=name, opd_code=opd, tpp_base=5_000_000, start=date(2026, 11, 1)))
    for user, role, opd, nip in (("admin", "admin", None, None), ("kadis-dinkes", "opd", "DINKES", None),
                                 ("bpkad", "payroll", None, None), ("inspektorat", "auditor", None, None),
                                 ("ani", "employee", None, A)):
        master.add("setup", User(username=user, password_hash=PASSWORD_HASH, role=role, opd_code=opd, nip=nip))
    key = new_key()
    registry.register("pi-dinkes-01", public_key_b64(key), opd="DINKES")
    registry.register("pi-disdik-01", public_key_b64(new_key()), opd="DISDIK")
    prev, items = "0" * 64, []
    for seq, (nip, hhmm) in enumerate(((A, "07:45"), (A, "16:05"), (C, "07:20")), start=1):
        ev = event("pi-dinkes-01", seq, prev, key, employee=nip, at=at(hhmm))
        prev = ev.event_hash()
        items.append(StoredEvent(ev, ev.captured_at))
    store.put(items)
    broadcaster = Broadcaster()
    app = create_app(store=store, master=master, registry=registry, policy=load_policy(), metrics=IngestMetrics(),
                     secret=b"test-secret", broadcaster=broadcaster, **app_options)
    try:
        with TestClient(app) as client:
            client.master, client.broadcaster, client.key = master, broadcaster, key
            yield client
    finally:
        store.close()


def login(client: TestClient, user: str, password: str = PASSWORD) -> dict:
    r = client.post("/auth/token", json={"username": user, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
