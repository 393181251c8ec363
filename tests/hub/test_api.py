"""The hub API: authentication, roles and OPD scope on every endpoint, TPP with explanations, exports,
errors in one shape, audit log, and the live stream."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import date, datetime, timedelta

import pytest
from api_setup import A, B, C, api_client, at, login
from helpers import event
from openpyxl import load_workbook

from hub.master import AuditLog
from hub.store.base import StoredEvent


class Clock:
    """The API's injectable clock: set `now` to make "today" whatever the test needs."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def api(tmp_path):
    clock = Clock(at("10:00", date(2026, 12, 1)))  # November is over, December has just begun
    with api_client(tmp_path, clock=clock) as client:
        client.clock = clock
        yield client


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
    # Another OPD's employee looks exactly like one that does not exist (404, not 403).
    for path, params in ((f"/employees/{C}", {}), ("/attendance", {"nip": C, "start": "2026-11-24",
                                                                   "end": "2026-11-24"}),
                         (f"/tpp/{C}", {"month": "2026-11"})):
        hidden, missing = (api.get(path.replace(C, nip), params={**params, "nip": nip} if "nip" in params else params,
                                   headers=h) for nip in (C, "199912312020121999"))
        assert hidden.status_code == missing.status_code == 404, (path, hidden.text)
        assert hidden.json()["error"]["message"].replace(C, "?") == \
            missing.json()["error"]["message"].replace("199912312020121999", "?")
    forbidden = [
        ("GET", "/employees", {"opd": "DISDIK"}),
        ("GET", "/attendance", {"opd": "DISDIK", "start": "2026-11-24", "end": "2026-11-24"}),
        ("GET", "/tpp", {"opd": "DISDIK", "month": "2026-11"}),
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
    assert r.status_code == 404
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
                               ("POST", "/users", {"username": "u", "password": "kuda-lari-99", "role": "admin"})):
        r = api.request(method, path, headers=h, json=body)
        assert r.status_code == 403, (method, path)


def test_employee_sees_only_self(api):
    h = login(api, "ani")
    assert api.get(f"/tpp/{A}", headers=h, params={"month": "2026-11"}).status_code == 200
    assert api.get(f"/tpp/{B}", headers=h, params={"month": "2026-11"}).status_code == 404
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
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
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


def correction(api, requester: str, approver: str, nip: str, at_iso: str, reason: str = "terminal mati listrik"):
    """Request a correction as one user and approve it as another; returns the approved correction."""
    r = api.post("/corrections", headers=login(api, requester), json={"nip": nip, "at": at_iso, "reason": reason})
    assert r.status_code == 201, r.text
    ok = api.post(f"/corrections/{r.json()['id']}/approve", headers=login(api, approver))
    assert ok.status_code == 200, ok.text
    return ok.json()


def test_corrections_count_once_approved_and_are_traceable(api):
    h = login(api, "kadis-dinkes")
    r = api.post("/corrections", headers=h, json={"nip": B, "at": "2026-11-24T07:25:00+09:00",
                                                   "reason": "terminal mati listrik"})
    assert r.status_code == 201 and r.json()["status"] == "pending" and r.json()["requested_by"] == "kadis-dinkes"
    day = lambda: api.get("/attendance", headers=h, params={"nip": B, "start": "2026-11-24",  # noqa: E731
                                                            "end": "2026-11-24"}).json()[0]
    assert day()["masuk"] is None  # a request alone counts for nothing
    bad = api.post("/corrections", headers=h, json={"nip": B, "at": "2026-11-24T07:25:00", "reason": "tanpa zona"})
    assert bad.status_code == 422
    other = api.post("/corrections", headers=h, json={"nip": C, "at": "2026-11-24T07:25:00+09:00",
                                                       "reason": "bukan stafnya"})
    assert other.status_code == 404
    approved = api.post(f"/corrections/{r.json()['id']}/approve", headers=login(api, "admin")).json()
    assert approved["status"] == "approved" and approved["approved_by"] == "admin"
    assert day()["masuk"] == "07:25:00" and day()["event_masuk"] == f"correction:{r.json()['id']}"


def test_night_shift_from_the_policy(api):
    h = login(api, "admin")
    assert api.patch(f"/employees/{B}", headers=h, json={"shift": "sore"}).status_code == 422
    assert api.patch(f"/employees/{B}", headers=h, json={"shift": "malam"}).status_code == 200
    correction(api, "admin", "kadis-dinkes", B, "2026-11-24T21:55:00+09:00", "uji shift malam")
    correction(api, "admin", "kadis-dinkes", B, "2026-11-25T06:05:00+09:00", "uji shift malam")
    day = api.get("/attendance", headers=h, params={"nip": B, "start": "2026-11-24", "end": "2026-11-24"}).json()[0]
    assert (day["masuk"], day["pulang"], day["kode"]) == ("21:55:00", "06:05:00", "HADIR")


def test_pp94_yearly_report(api):
    r = api.get("/discipline/pp94", headers=login(api, "bpkad"), params={"year": 2026, "opd": "DINKES"})
    rows = {x["nip"]: x for x in r.json()}
    # Employees started on 1 November: every working day without a punch up to today is TK.
    assert rows[A]["hari_tk"] >= 1 and rows[A]["tingkat_pp94"] is not None
    assert api.get("/discipline/pp94", headers=login(api, "ani"), params={"year": 2026}).status_code == 403


def test_dashboard_address_opens_the_web_app_in_bahasa_indonesia(api):
    r = api.get("/dashboard")  # the old board's address: the web app, on its board
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert str(r.url).endswith("/app/#/hari-ini") or str(r.url).endswith("/app/")
    for label in ('lang="id"', "Nama pengguna", "Kata sandi", "Masuk", "/static/app/js/main.js"):
        assert label in r.text
    assert "/dashboard" not in api.app.openapi()["paths"]  # a page, not part of the API contract
