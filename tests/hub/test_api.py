"""The hub API: authentication, roles and OPD scope on every endpoint, TPP with explanations, exports,
errors in one shape, audit log, and the live stream."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from helpers import event
from openpyxl import load_workbook

from hadir.signing import new_key, public_key_b64
from hadir.wit import WIT
from hub.api.app import create_app
from hub.ingest.metrics import IngestMetrics
from hub.live import Broadcaster
from hub.master import AuditLog, Employee, MasterData, Opd, User, hash_password
from hub.payroll.policy_file import load_policy
from hub.registry import DeviceRegistry
from hub.store.base import StoredEvent
from hub.store.sqlite_store import SqliteEventStore

DAY = date(2026, 11, 24)  # a Tuesday
A, B, C = "198703122010011001", "199002052015032002", "198811202014021003"  # A, B in DINKES; C in DISDIK
PASSWORD = "rahasia-123"


def at(hhmm: str, day: date = DAY) -> datetime:
    return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), WIT).astimezone(timezone.utc)


class Clock:
    """The API's injectable clock: set `now` to make "today" whatever the test needs."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api(tmp_path):
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
        master.add("setup", User(username=user, password_hash=hash_password(PASSWORD), role=role, opd_code=opd,
                                 nip=nip))
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
    clock = Clock(at("10:00", date(2026, 12, 1)))  # November is over, December has just begun
    app = create_app(store=store, master=master, registry=registry, policy=load_policy(), metrics=IngestMetrics(),
                     secret=b"test-secret", broadcaster=broadcaster, clock=clock)
    with TestClient(app) as client:
        client.master, client.broadcaster, client.key, client.clock = master, broadcaster, key, clock
        yield client
    store.close()


def login(client, user: str) -> dict:
    r = client.post("/auth/token", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_everything_but_health_needs_a_token(api):
    assert api.get("/health").status_code == 200
    paths = api.app.openapi()["paths"]
    assert len(paths) >= 15
    for path, ops in paths.items():
        if path in ("/health", "/auth/token"):
            continue
        for method in ops:
            url = path.replace("{nip}", A).replace("{device_id}", "pi-dinkes-01")
            params = {"month": "2026-11", "start": "2026-11-24", "end": "2026-11-24"}
            r = api.request(method.upper(), url, params=params)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "unauthenticated"
    bad = api.get("/employees", headers={"Authorization": "Bearer forged.token"})
    assert bad.status_code == 401


def test_wrong_password_is_refused(api):
    r = api.post("/auth/token", json={"username": "admin", "password": "salah"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "wrong username or password"


def test_opd_user_cannot_read_or_change_another_opd(api):
    h = login(api, "kadis-dinkes")
    assert {e["nip"] for e in api.get("/employees", headers=h).json()["items"]} == {A, B}
    forbidden = [
        ("GET", "/employees", {"opd": "DISDIK"}), ("GET", f"/employees/{C}", {}),
        ("GET", "/attendance", {"nip": C, "start": "2026-11-24", "end": "2026-11-24"}),
        ("GET", "/attendance", {"opd": "DISDIK", "start": "2026-11-24", "end": "2026-11-24"}),
        ("GET", "/tpp", {"opd": "DISDIK", "month": "2026-11"}), ("GET", f"/tpp/{C}", {"month": "2026-11"}),
        ("GET", "/board/today", {"opd": "DISDIK"}), ("GET", "/devices", {"opd": "DISDIK"}),
        ("GET", "/export/tpp.csv", {"opd": "DISDIK", "month": "2026-11"}),
        ("GET", "/export/tpp.xlsx", {"opd": "DISDIK", "month": "2026-11"}),
        ("GET", "/leave", {"opd": "DISDIK"}), ("GET", "/duty-orders", {"opd": "DISDIK"}),
        ("GET", "/stream/checkins", {"opd": "DISDIK"}),
        ("PATCH", f"/employees/{C}", {}), ("DELETE", f"/employees/{C}", {}), ("POST", "/employees", {}),
        ("GET", "/audit/chain/pi-disdik-01", {}), ("GET", "/metrics", {}),
    ]
    for method, path, params in forbidden:
        kw = {"json": {"name": "x"}} if method == "PATCH" else {}
        if path == "/employees" and method == "POST":
            kw = {"json": {"nip": "9", "name": "x", "opd_code": "DISDIK", "tpp_base": 1}}
        r = api.request(method, path, params=params, headers=h, **kw)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    r = api.post("/leave", headers=h, json={"nip": C, "start": "2026-11-25", "end": "2026-11-25", "type": "sakit"})
    assert r.status_code == 403
    # Its own OPD works, and devices are filtered to it.
    assert api.post("/leave", headers=h, json={"nip": B, "start": "2026-11-25", "end": "2026-11-25",
                                               "type": "sakit"}).status_code == 201
    assert [d["device_id"] for d in api.get("/devices", headers=h).json()] == ["pi-dinkes-01"]


def test_auditor_reads_everything_and_changes_nothing(api):
    h = login(api, "inspektorat")
    assert len(api.get("/employees", headers=h).json()["items"]) == 3
    assert api.get("/audit/chain/pi-dinkes-01", headers=h).json()["intact"] is True
    for method, path, body in (("POST", "/employees", {"nip": "9", "name": "x", "opd_code": "DINKES", "tpp_base": 1}),
                               ("PATCH", f"/employees/{A}", {"name": "x"}), ("DELETE", f"/employees/{A}", None),
                               ("POST", "/opd", {"code": "X", "name": "x"}),
                               ("POST", "/holidays", {"day": "2026-12-24", "name": "x"}),
                               ("POST", "/leave", {"nip": A, "start": "2026-11-25", "end": "2026-11-25",
                                                   "type": "sakit"}),
                               ("POST", "/users", {"username": "u", "password": "12345678", "role": "admin"})):
        r = api.request(method, path, headers=h, json=body)
        assert r.status_code == 403, (method, path)


def test_employee_sees_only_self(api):
    h = login(api, "ani")
    assert api.get(f"/tpp/{A}", headers=h, params={"month": "2026-11"}).status_code == 200
    assert api.get(f"/tpp/{B}", headers=h, params={"month": "2026-11"}).status_code == 403
    assert [e["nip"] for e in api.get("/employees", headers=h).json()["items"]] == [A]
    assert api.get("/board/today", headers=h).status_code == 403


def test_tpp_is_explained_and_traceable(api):
    h = login(api, "bpkad")
    r = api.get(f"/tpp/{A}", headers=h, params={"month": "2026-11"}).json()
    # 24 Nov: in 07:45 (15 min late, TL1 0.5 %), out 16:05; every other working day of November is TK (3 %),
    # 17 days from 2 Nov (start 1 Nov) ... zeroed by the 7-in-a-row rule.
    assert r["hari"]["2026-11-24"] == "TL1"
    assert r["tidak_dibayar"] is True and r["tpp_diterima"] == 0
    assert any("TL1" in line for line in r["penjelasan"])
    days = api.get("/attendance", headers=h, params={"nip": A, "start": "2026-11-24", "end": "2026-11-24"}).json()
    assert days[0]["masuk"] == "07:45:00" and days[0]["event_masuk"] == "pi-dinkes-01:1"
    assert days[0]["event_pulang"] == "pi-dinkes-01:2"


def test_exports_have_indonesian_headers_and_one_sheet_per_opd(api):
    h = login(api, "bpkad")
    r = api.get("/export/tpp.csv", headers=h, params={"month": "2026-11"})
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["NIP", "Nama", "OPD"] and "TPP Diterima (Rp)" in rows[0] and len(rows) == 4
    x = api.get("/export/tpp.xlsx", headers=h, params={"month": "2026-11"})
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["DINKES", "DISDIK"]
    assert wb["DINKES"].max_row == 3 and wb["DINKES"]["A1"].value == "NIP"


def test_bad_requests_get_a_4xx_naming_the_field(api):
    h = login(api, "admin")
    cases = [
        (api.get("/tpp", headers=h, params={"month": "2026-13"}), "month"),
        (api.post("/employees", headers=h, json={"nip": "1", "name": "x", "opd_code": "DINKES", "tpp_base": -5}),
         "tpp_base"),
        (api.post("/employees", headers=h, json={"nip": "1", "name": "x", "opd_code": "DINKES"}), "tpp_base"),
        (api.post("/leave", headers=h, json={"nip": A, "start": "2026-11-25", "end": "2026-11-25", "type": "liburan"}),
         "type"),
        (api.get("/attendance", headers=h, params={"nip": A, "start": "2026-11-24", "end": "2026-10-01"}), "end"),
    ]
    for r, field in cases:
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field and field in r.json()["error"]["message"]
    dup = api.post("/employees", headers=h, json={"nip": A, "name": "x", "opd_code": "DINKES", "tpp_base": 1})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"
    missing = api.get("/employees/000", headers=h)
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "nip"


def test_every_change_is_written_to_the_audit_log(api):
    h = login(api, "admin")
    api.patch(f"/employees/{B}", headers=h, json={"tpp_base": 4_000_000})
    api.post("/holidays", headers=h, json={"day": "2026-12-24", "name": "Cuti bersama Natal"})
    rows = api.master.list(AuditLog, actor="admin")
    assert [(r.action, r.entity) for r in rows] == [("update", "employee"), ("create", "holiday")]
    assert rows[0].detail["tpp_base"] == 4_000_000


def test_board_shows_todays_check_ins(api):
    api.clock.now = at("10:00")
    board = {row["nip"]: row for row in api.get("/board/today", headers=login(api, "kadis-dinkes")).json()}
    assert board[A]["masuk"] == "07:45" and board[A]["terlambat_menit"] == 15
    assert board[B]["masuk"] is None and set(board) == {A, B}


def test_live_stream_pushes_stored_check_ins(api):
    h = login(api, "kadis-dinkes")
    ev = event("pi-dinkes-01", 4, "f" * 64, api.key, employee=B, at=at("07:29") + timedelta(days=1))
    got = []

    def push_when_listening():
        for _ in range(200):
            if api.broadcaster._subscribers:
                api.broadcaster.publish(StoredEvent(ev, ev.captured_at))
                return
            threading.Event().wait(0.01)

    threading.Thread(target=push_when_listening, daemon=True).start()
    with api.stream("GET", "/stream/checkins", headers=h) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
                break
    assert got[0]["nip"] == B and got[0]["event"] == "pi-dinkes-01:4" and got[0]["opd"] == "DINKES"


def test_geofence_from_sites_decides_which_check_ins_count(api):
    from hadir.contract import EventKind, GpsFix

    h = login(api, "admin")
    r = api.post("/sites", headers=h, json={"opd_code": "DINKES", "name": "Kantor Dinkes", "lat": -3.6954,
                                             "lon": 128.1814, "radius_m": 100})
    assert r.status_code == 201
    far = event("hp-dinkes-09", 1, employee=B, at=at("07:20"),
                gps=GpsFix(lat=-3.70, lon=128.19, mode=3, sats_used=9, hdop=0.8))
    near = event("hp-dinkes-09", 2, employee=B, at=at("16:10"),
                 gps=GpsFix(lat=-3.69541, lon=128.18142, mode=3, sats_used=9, hdop=0.8))
    api.app.state.store.put([StoredEvent(e.model_copy(update={"kind": EventKind.FIELD_CHECKIN}), e.captured_at)
                             for e in (far, near)])
    day = api.get("/attendance", headers=h, params={"nip": B, "start": "2026-11-24", "end": "2026-11-24"}).json()[0]
    assert day["masuk"] is None and day["pulang"] == "16:10:00" and day["kode"] == "TL4"
    assert day["diabaikan"] == [{"event": "hp-dinkes-09:1", "alasan": "di luar radius lokasi"}]


def test_corrections_count_with_their_approver_and_are_traceable(api):
    h = login(api, "kadis-dinkes")
    r = api.post("/corrections", headers=h, json={"nip": B, "at": "2026-11-24T07:25:00+09:00",
                                                   "approved_by": "Kepala Dinas", "reason": "terminal mati listrik"})
    assert r.status_code == 201
    bad = api.post("/corrections", headers=h, json={"nip": B, "at": "2026-11-24T07:25:00", "approved_by": "x",
                                                     "reason": "tanpa zona waktu"})
    assert bad.status_code == 422
    other = api.post("/corrections", headers=h, json={"nip": C, "at": "2026-11-24T07:25:00+09:00",
                                                       "approved_by": "x", "reason": "bukan stafnya"})
    assert other.status_code == 403
    day = api.get("/attendance", headers=h, params={"nip": B, "start": "2026-11-24", "end": "2026-11-24"}).json()[0]
    assert day["masuk"] == "07:25:00" and day["event_masuk"] == f"correction:{r.json()['id']}"


def test_night_shift_from_the_policy(api):
    h = login(api, "admin")
    assert api.patch(f"/employees/{B}", headers=h, json={"shift": "sore"}).status_code == 422
    assert api.patch(f"/employees/{B}", headers=h, json={"shift": "malam"}).status_code == 200
    api.post("/corrections", headers=h, json={"nip": B, "at": "2026-11-24T21:55:00+09:00", "approved_by": "x",
                                              "reason": "uji shift malam"})
    api.post("/corrections", headers=h, json={"nip": B, "at": "2026-11-25T06:05:00+09:00", "approved_by": "x",
                                              "reason": "uji shift malam"})
    day = api.get("/attendance", headers=h, params={"nip": B, "start": "2026-11-24", "end": "2026-11-24"}).json()[0]
    assert (day["masuk"], day["pulang"], day["kode"]) == ("21:55:00", "06:05:00", "HADIR")


def test_pp94_yearly_report(api):
    r = api.get("/discipline/pp94", headers=login(api, "bpkad"), params={"year": 2026, "opd": "DINKES"})
    rows = {x["nip"]: x for x in r.json()}
    # Employees started on 1 November: every working day without a punch up to today is TK.
    assert rows[A]["hari_tk"] >= 1 and rows[A]["tingkat_pp94"] is not None
    assert api.get("/discipline/pp94", headers=login(api, "ani"), params={"year": 2026}).status_code == 403


def test_dashboard_page_is_served_in_bahasa_indonesia(api):
    r = api.get("/dashboard")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for label in ("Papan Kehadiran Hari Ini", "Terakhir terlihat", "Presensi langsung", "/board/today",
                  "/stream/checkins"):
        assert label in r.text
    assert "/dashboard" not in api.app.openapi()["paths"]  # a page, not part of the API contract
