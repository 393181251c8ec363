"""The API on payroll days: provisional months from the injected clock, the board's codes so far, exports and
PP 94 that do not count what has not happened, the calendar's lists, Ramadan confirmation, strict inputs."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date

from api_setup import DAY, A, B, at, login
from helpers import event
from openpyxl import load_workbook
from test_api import api  # noqa: F401 - the shared fixture

from hub.api.app import create_app
from hub.ingest.metrics import IngestMetrics
from hub.master import AuditLog
from hub.payroll.policy_file import load_policy
from hub.store.base import StoredEvent

DEC1 = date(2026, 12, 1)


def punch(client, nip: str, hhmm: str, day: date, seq: int) -> None:
    ev = event("pi-dinkes-01", seq, "e" * 64, client.key, employee=nip, at=at(hhmm, day))
    client.app.state.store.put([StoredEvent(ev, ev.captured_at)])


def test_on_the_first_of_december_the_month_is_provisional_and_nobody_is_zeroed(api):  # noqa: F811
    api.clock.now = at("09:17", DEC1)
    punch(api, A, "07:25", DEC1, 10)
    h = login(api, "bpkad")
    r = api.get(f"/tpp/{A}", headers=h, params={"month": "2026-12"}).json()
    assert r["sementara"] is True and r["tidak_dibayar"] is False and r["tpp_diterima"] == 5_000_000
    assert r["hari"]["2026-12-01"] == "BELUM_PULANG" and r["hari"]["2026-12-02"] == "BELUM"
    assert "TK" not in r["hari"].values() and r["hari_belum_terjadi"] == 20
    assert r["dihitung_pada"] == "2026-12-01T09:17:00+09:00"
    assert r["penjelasan"][2].startswith("SEMENTARA per 01-12-2026 09:17")
    assert {"tanggal": "2026-12-24", "daftar": "cuti bersama", "nama": "Cuti Bersama Hari Raya Natal"} in r["libur"]
    everyone = api.get("/tpp", headers=h, params={"month": "2026-12"}).json()
    assert [x["tidak_dibayar"] for x in everyone] == [False, False, False]
    # B has not checked in yet: "belum hadir", no deduction.
    assert next(x for x in everyone if x["nip"] == B)["hari"]["2026-12-01"] == "BELUM_HADIR"
    # November is over: final, and zeroed for what happened (A started on 1 November, present on the 24th only).
    nov = api.get(f"/tpp/{A}", headers=h, params={"month": "2026-11"}).json()
    assert nov["sementara"] is False and nov["tidak_dibayar"] is True


def test_a_mid_month_request_resolves_only_what_has_happened(api):  # noqa: F811
    api.clock.now = at("10:00")  # Tuesday 24 November, 10:00 WIT; A's 16:05 check-out has not happened yet
    r = api.get(f"/tpp/{A}", headers=login(api, "bpkad"), params={"month": "2026-11"}).json()
    assert r["hari"]["2026-11-24"] == "TL1+BELUM_PULANG" and r["hari"]["2026-11-25"] == "BELUM"
    assert r["sementara"] is True and r["hari_belum_terjadi"] == 4
    # 16 working days without a punch have happened (2 .. 23 November): zeroed, provisional or not.
    assert r["tidak_dibayar"] is True and "berturut-turut" in r["alasan"]


def test_the_board_shows_codes_so_far(api):  # noqa: F811
    punch(api, A, "07:25", DEC1, 10)
    h = login(api, "kadis-dinkes")
    api.clock.now = at("09:17", DEC1)
    board = {row["nip"]: row for row in api.get("/board/today", headers=h).json()}
    assert (board[A]["kode"], board[A]["keterangan"], board[A]["sementara"]) == ("BELUM_PULANG", "belum pulang", True)
    assert (board[B]["kode"], board[B]["keterangan"]) == ("BELUM_HADIR", "belum hadir")
    api.clock.now = at("06:45", DEC1)  # before the check-in window opens
    assert {r["nip"]: r["keterangan"] for r in api.get("/board/today", headers=h).json()}[B] == "belum hadir"
    api.clock.now = at("12:00", DEC1)  # the check-in window closed at 11:45
    board = {row["nip"]: row for row in api.get("/board/today", headers=h).json()}
    assert board[B]["kode"] == "TK" and board[B]["sementara"] is True
    api.clock.now = at("20:00", DEC1).replace(second=1)  # the check-out window closed at 20:00:00
    board = {row["nip"]: row for row in api.get("/board/today", headers=h).json()}
    assert board[A]["kode"] == "PSW4" and board[A]["sementara"] is False


def test_exports_say_provisional_and_count_only_what_happened(api):  # noqa: F811
    api.clock.now = at("09:17", DEC1)
    h = login(api, "bpkad")
    r = api.get("/export/tpp.csv", headers=h, params={"month": "2026-12"})
    assert "rekap-tpp-2026-12-sementara.csv" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    col = {name: i for i, name in enumerate(rows[0])}
    for row in rows[1:]:
        assert row[col["Status"]] == "Sementara per 01-12-2026 09:17 WIT" and row[col["Hari TK"]] == "0"
        assert row[col["Tidak Dibayar"]] == "Tidak" and row[col["TPP Diterima (Rp)"]] == "5000000"
        assert row[col["Hari Belum Terjadi"]] == "20"
    nov = list(csv.reader(io.StringIO(api.get("/export/tpp.csv", headers=h, params={"month": "2026-11"})
                                   .content.decode("utf-8-sig")), delimiter=";"))
    a = next(row for row in nov if row[0] == f'="{A}"')  # the NIP stays text in Excel
    assert a[col["Status"]] == "Final" and a[col["Hari TK"]] == "20" and a[col["Tidak Dibayar"]] == "Ya"
    x = api.get("/export/tpp.xlsx", headers=h, params={"month": "2026-12"})
    sheet = load_workbook(io.BytesIO(x.content))["DINKES"]
    assert sheet.cell(1, col["Status"] + 1).value == "Status"
    assert sheet.cell(2, col["Status"] + 1).value.startswith("Sementara") and \
        sheet.cell(2, col["Status"] + 1).value.endswith(" WIT")
    # A month that has not begun (WIT) has nothing to pay yet: said so, with no deductions and no amount.
    jan = list(csv.reader(io.StringIO(api.get("/export/tpp.csv", headers=h, params={"month": "2027-01"})
                                   .content.decode("utf-8-sig")), delimiter=";"))
    for row in jan[1:]:
        assert row[col["Status"]] == "Bulan belum dimulai" and row[col["TPP Diterima (Rp)"]] == ""
        assert row[col["Hari TK"]] == "" and row[col["TPP Dasar (Rp)"]] == "5000000"


def test_pp94_counts_the_year_so_far(api):  # noqa: F811
    h = login(api, "bpkad")
    api.clock.now = at("10:00", DEC1)
    rows = {x["nip"]: x for x in api.get("/discipline/pp94", headers=h, params={"year": 2026}).json()}
    assert rows[A]["hari_tk"] == 20 and rows[A]["sementara"] is True  # 1 December is not over: not counted
    api.clock.now = at("21:00", DEC1)
    rows = {x["nip"]: x for x in api.get("/discipline/pp94", headers=h, params={"year": 2026}).json()}
    assert rows[A]["hari_tk"] == 21
    assert api.get("/discipline/pp94", headers=h, params={"year": 2027}).status_code == 422


def test_days_off_name_their_list_and_the_city_list_is_audited(api):  # noqa: F811
    h = login(api, "admin")
    params = {"nip": A, "start": "2026-12-23", "end": "2026-12-28"}
    days = {d["tanggal"]: d for d in api.get("/attendance", headers=h, params=params).json()}
    assert days["2026-12-24"]["kode"] == "LIBUR" and days["2026-12-24"]["daftar_libur"] == "cuti bersama"
    assert days["2026-12-25"]["keterangan"] == "libur nasional: Hari Raya Natal"
    assert days["2026-12-28"]["kode"] == "BELUM" and "2026-12-26" not in days  # a Saturday is simply not listed
    # The city works the cuti bersama of the 24th and adds the 28th.
    assert api.post("/holidays", headers=h, json={"day": "2026-12-24", "name": "layanan tetap buka",
                                                  "works": True}).status_code == 201
    assert api.post("/holidays", headers=h, json={"day": "2026-12-28", "name": "HUT Kota (contoh)"}).status_code == 201
    days = {d["tanggal"]: d for d in api.get("/attendance", headers=h, params=params).json()}
    assert days["2026-12-24"]["kode"] == "BELUM"
    assert days["2026-12-28"]["keterangan"] == "daftar kota: HUT Kota (contoh)"
    cal = {d["tanggal"]: d["daftar"] for d in api.get("/calendar", headers=h, params={"year": 2026}).json()}
    assert "2026-12-24" not in cal and cal["2026-12-28"] == "daftar kota" and cal["2026-03-20"] == "cuti bersama"
    assert api.delete("/holidays/2026-12-28", headers=h).status_code == 204
    assert api.delete("/holidays/2026-12-28", headers=h).json()["error"]["field"] == "day"
    log = [(r.action, r.entity, r.entity_id) for r in api.master.list(AuditLog, actor="admin")]
    assert log == [("create", "holiday", "2026-12-24"), ("create", "holiday", "2026-12-28"),
                   ("delete", "holiday", "2026-12-28")]
    payroll = login(api, "bpkad")
    assert api.post("/holidays", headers=payroll, json={"day": "2026-12-31", "name": "x"}).status_code == 403


def test_ramadan_warns_until_an_admin_confirms_it(api, caplog):  # noqa: F811
    h = login(api, "admin")
    api.clock.now = at("10:00", DEC1)
    r = api.get("/ramadan", headers=h).json()
    assert r["berikutnya"] == {"tahun_hijriah": 1448, "perkiraan_mulai": "2027-02-08",
                               "perkiraan_selesai": "2027-03-08", "dikonfirmasi": False}
    assert "1448 H belum dikonfirmasi" in r["peringatan"]
    assert [(x["tahun_hijriah"], x["mulai"], x["dari"]) for x in r["jadwal"]] == [
        (1446, "2025-03-01", "kebijakan"), (1447, "2026-02-19", "kebijakan")]
    body = {"start": "2027-02-09", "end": "2027-03-10", "source": "contoh: sidang isbat"}
    assert api.put("/ramadan/1448", headers=login(api, "bpkad"), json=body).status_code == 403
    bad = api.put("/ramadan/1448", headers=h, json={**body, "end": "2027-03-20"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "end"
    assert api.put("/ramadan/1448", headers=h, json=body).status_code == 200
    r = api.get("/ramadan", headers=h).json()
    assert r["peringatan"] is None and r["berikutnya"]["dikonfirmasi"] is True
    assert r["jadwal"][-1]["dari"] == "master data"
    again = {**body, "start": "2027-02-08", "end": "2027-03-09"}
    assert api.put("/ramadan/1448", headers=h, json=again).status_code == 200
    audit = [(x.action, x.entity, x.entity_id) for x in api.master.list(AuditLog, actor="admin")]
    assert audit == [("create", "ramadan_period", "1448"), ("update", "ramadan_period", "1448")]
    # Ramadan hours now apply on a weekday of 1448: 07:55 is on time (08:00 start).
    api.clock.now = at("10:00", date(2027, 2, 10))  # a correction may not be for the future
    r = api.post("/corrections", headers=login(api, "kadis-dinkes"),
                 json={"nip": A, "at": "2027-02-10T07:55:00+09:00", "reason": "uji jam Ramadan"})
    assert r.status_code == 201, r.text
    assert api.post(f"/corrections/{r.json()['id']}/approve", headers=h).status_code == 200
    day = api.get("/attendance", headers=h, params={"nip": A, "start": "2027-02-10", "end": "2027-02-10"}).json()[0]
    assert day["kode"] == "BELUM_PULANG" and day["terlambat_menit"] == 0
    # The hub logs the warning when the API starts (hub start) while the coming Ramadan is unconfirmed.
    with caplog.at_level(logging.WARNING, logger="hub.api.app"):
        create_app(store=api.app.state.store, master=api.master, registry=api.app.state.registry,
                   policy=load_policy(), metrics=IngestMetrics(), secret=b"x",
                   clock=lambda: at("10:00", date(2027, 4, 1)))
    assert any("1449 H belum dikonfirmasi" in m for m in caplog.messages)


def test_the_api_checks_the_same_inputs_as_simulate(api):  # noqa: F811
    h = login(api, "admin")
    cases = [
        (api.post("/leave", headers=h, json={"nip": A, "start": "2026-11-12", "end": "2026-11-11", "type": "sakit"}),
         422, "end"),
        (api.post("/duty-orders", headers=h, json={"nip": A, "start": "2026-11-17", "end": "2026-11-16",
                                                   "number": "SPT-1"}), 422, "end"),
        (api.post("/leave", headers=h, json={"nip": A, "start": "2026-11-11", "end": "2026-11-12"}), 422, "type"),
        (api.post("/leave", headers=h, json={"nip": "999", "start": "2026-11-11", "end": "2026-11-12",
                                             "type": "sakit"}), 404, "nip"),
        (api.post("/corrections", headers=h, json={"nip": A, "at": "2026-11-24", "reason": "tanpa jam"}), 422, "at"),
        (api.post("/holidays", headers=h, json={"day": "2026-02-30", "name": "x"}), 422, "day"),
        (api.post("/employees", headers=h, json={"nip": A, "name": "x", "opd_code": "DINKES", "tpp_base": 1}),
         409, "nip"),
        (api.post("/employees", headers=h, json={"nip": "9", "name": "x", "opd_code": "DINKES", "tpp_base": 1,
                                                 "shift": "sore"}), 422, "shift"),
    ]
    for r, status, field in cases:
        assert r.status_code == status, r.text
        assert r.json()["error"]["field"] == field, r.text
    assert "needs a time" in cases[4][0].json()["error"]["message"]


def test_a_check_out_at_hh_mm_30_through_the_api(api):  # noqa: F811
    ask, approve = login(api, "kadis-dinkes"), login(api, "admin")  # a correction needs a second person
    for at_ in ("2026-11-24T07:30:59+09:00", "2026-11-24T15:59:30+09:00"):
        r = api.post("/corrections", headers=ask, json={"nip": B, "at": at_, "reason": "uji detik"})
        assert r.status_code == 201, r.text
        assert api.post(f"/corrections/{r.json()['id']}/approve", headers=approve).status_code == 200
    day = api.get("/attendance", headers=approve, params={"nip": B, "start": str(DAY), "end": str(DAY)}).json()[0]
    assert (day["masuk"], day["pulang"], day["kode"], day["pulang_cepat_menit"]) == ("07:30:59", "15:59:30", "HADIR", 0)


def test_the_dashboard_shows_provisional_codes_and_the_ramadan_warning(api):  # noqa: F811
    page = api.get("/dashboard")  # the old board's address opens the web app, whose board is its first page
    assert page.status_code == 200 and page.url.path == "/app/"
    board = api.get("/static/app/js/pages/today.js").text
    legend = api.get("/static/app/js/legend.js").text
    for needle in ("p.sementara", "p.keterangan", "Keterangan", '"/ramadan"', "r.peringatan"):
        assert needle in board
    assert "sementara" in legend
