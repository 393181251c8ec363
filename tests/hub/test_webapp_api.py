"""The web app's routes: the page and its assets, what each role may see, the board, the month, one employee's
month, the review list and the devices, in Bahasa Indonesia."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from webapp_city import NOW, PASSWORD, seed

from hub.api.app import create_app
from hub.config import MapSettings
from hub.ingest.metrics import IngestMetrics
from hub.payroll.policy_file import load_policy


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed(tmp_path_factory.mktemp("city"))


def make_client(city, **kw) -> TestClient:
    app = create_app(store=city.store, master=city.master, registry=city.registry, policy=load_policy(),
                     metrics=IngestMetrics(), secret=b"test", quarantine=city.quarantine, clock=lambda: NOW, **kw)
    return TestClient(app)


@pytest.fixture
def client(seeded, tmp_path):
    city = seeded.copy_to(tmp_path)
    with make_client(city) as c:
        c.city = city
        yield c
    city.store.close()


def login(client, user: str) -> dict:
    r = client.post("/auth/token", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_the_page_and_its_assets_are_served_by_the_hub_with_a_strict_policy(client):
    r = client.get("/app/")
    assert r.status_code == 200 and '<html lang="id">' in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe" not in csp and "http" not in csp
    assert "<script>" not in r.text and "style=" not in r.text  # nothing inline: the policy allows none
    for asset in ("/static/app/js/main.js", "/static/app/app.css", "/static/vendor/leaflet/leaflet.js",
                  "/static/vendor/leaflet/leaflet.css", "/static/vendor/leaflet/images/marker-icon.png",
                  "/static/vendor/leaflet/LICENSE"):
        assert client.get(asset).status_code == 200, asset
    old = client.get("/dashboard", follow_redirects=False)
    assert old.status_code == 307 and old.headers["location"] == "/app/#/hari-ini"
    assert "/dashboard" not in client.app.openapi()["paths"] and "/app/" not in client.app.openapi()["paths"]


def test_the_city_tile_server_is_the_only_other_origin_allowed_and_only_for_images(seeded, tmp_path):
    city = seeded.copy_to(tmp_path)
    tiles = MapSettings(tiles_url="https://{s}.tiles.ambon.go.id/{z}/{x}/{y}.png", attribution="Pemkot Ambon")
    with make_client(city, map_settings=tiles) as c:
        csp = c.get("/app/").headers["content-security-policy"]
        assert "img-src 'self' data: blob: https://*.tiles.ambon.go.id;" in csp
        assert csp.count("tiles.ambon.go.id") == 1
        peta = c.get("/app/config", headers=login(c, "kadis-dinkes")).json()["peta"]
        assert peta["ubin"] == tiles.tiles_url and peta["atribusi"] == "Pemkot Ambon"
    city.store.close()


def test_config_tells_the_app_who_is_logged_in_and_how_corrections_work(client):
    cfg = client.get("/app/config", headers=login(client, "ani")).json()
    assert cfg["pengguna"]["peran"] == "employee" and cfg["pengguna"]["nama"] == "Ani Lestari"
    assert cfg["opd"] == []
    assert cfg["koreksi"] == {"butuh_nama_penyetuju": False, "persetujuan_kedua": True}  # four eyes (#13)
    codes = {x["kode"]: x["arti"] for x in cfg["legenda"]}
    assert {"HADIR", "TL3", "PSW4", "TK", "CUTI", "DL", "BELUM_HADIR", "BELUM_PULANG", "+"} <= set(codes)
    assert "61–90 menit" in codes["TL3"] and "tidak presensi pulang" in codes["PSW4"] and "TL3+PSW4" in codes["+"]
    kadis = client.get("/app/config", headers=login(client, "kadis-dinkes")).json()
    assert kadis["opd"] == [{"kode": "DINKES", "nama": "Dinas Kesehatan"}]
    assert len(client.get("/app/config", headers=login(client, "bkpsdm")).json()["opd"]) == 2
    assert client.get("/app/config").status_code == 401


def test_the_board_counts_and_lists_the_opd_today(client):
    city = client.city
    board = client.get("/view/today", headers=login(client, "kadis-dinkes")).json()
    assert board["tanggal"] == "2026-11-24" and board["tanggal_panjang"] == "Selasa, 24 November 2026"
    assert board["opd"] == {"kode": "DINKES", "nama": "Dinas Kesehatan"} and board["dihitung_pada"] == "10:30"
    assert board["jumlah"] == {"pegawai": 12, "hadir": 8, "terlambat": 2, "belum_hadir": 2, "cuti": 1, "dl": 1,
                               "libur": 0, "tidak_dikenali": 1}
    rows = {p["nama"]: p for p in board["pegawai"]}
    assert rows["Budi Santoso"]["kode"] == "TL1+BELUM_PULANG" and rows["Budi Santoso"]["sementara"]
    assert rows["Budi Santoso"]["masuk"] == "07:48" and rows["Budi Santoso"]["keterangan"] == \
        "terlambat 18 menit, belum presensi pulang"
    assert rows["Fajar Tuhumury"]["kode"] == "BELUM_HADIR" and rows["Fajar Tuhumury"]["tidak_dihitung"] == 1
    assert rows["Hendra Sahetapy"]["kode"] == "DL" and rows["Hendra Sahetapy"]["masuk"] == "08:05"
    assert rows["Gita Manuputty"]["kategori"] == "cuti"
    assert all(p["nip"] in city.names for p in board["pegawai"])


def test_an_unchanged_board_costs_a_304_and_an_event_changes_what_the_next_request_sees(client):
    city, h = client.city, login(client, "kadis-dinkes")
    first = client.get("/view/today", headers=h)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache" and etag.startswith('"')
    same = client.get("/view/today", headers={**h, "If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    assert client.get("/view/today", headers={**h, "If-None-Match": f'"x", W/{etag}'}).status_code == 304
    other = login(client, "kadis-disdik")  # the ETag of another OPD's board opens nothing
    assert client.get("/view/today?opd=DINKES", headers={**other, "If-None-Match": etag}).status_code == 403
    item = city.event("pi-dinkes-01", city.nip("Fajar Tuhumury"), NOW.replace(hour=7, minute=25))
    city.store.put([item])
    client.app.state.results.on_stored(item)
    changed = client.get("/view/today", headers={**h, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert {p["nama"]: p["kode"] for p in changed.json()["pegawai"]}["Fajar Tuhumury"] == "BELUM_PULANG"
    month = client.get("/view/month", headers=h)
    assert client.get("/view/month", headers={**h, "If-None-Match": month.headers["etag"]}).status_code == 304


def test_the_board_goes_gzipped_to_browsers_and_plain_to_clients_without_gzip(client):
    h = login(client, "kadis-dinkes")
    zipped = client.get("/view/today", headers={**h, "Accept-Encoding": "gzip, deflate, br"})
    plain = client.get("/view/today", headers={**h, "Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.json() == plain.json() and zipped.headers["etag"] != plain.headers["etag"]
    assert zipped.headers["vary"] == "Accept-Encoding"
    for etag in (zipped.headers["etag"], plain.headers["etag"]):  # either encoding's ETag means the same view
        again = client.get("/view/today", headers={**h, "Accept-Encoding": "identity", "If-None-Match": etag})
        assert again.status_code == 304
    refused = client.get("/view/today", headers={**h, "Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers


def test_the_month_table_marks_today_provisional_and_resolves_nothing_after_it(client):
    m = client.get("/view/month", headers=login(client, "bkpsdm"), params={"opd": "DINKES"}).json()
    assert m["bulan"] == "2026-11" and m["sementara"] and m["nama_bulan"] == "November 2026"
    assert len(m["tanggal"]) == 30 and [t["nanti"] for t in m["tanggal"]].count(True) == 6
    for p in m["pegawai"]:
        assert max(p["hari"]) == "2026-11-24" and p["hari_sementara"] == ["2026-11-24"]
        assert "2026-11-22" not in p["hari"]  # a Sunday
    closed = client.get("/view/month", headers=login(client, "bkpsdm"), params={"opd": "DINKES", "month": "2026-10"})
    assert closed.json()["sementara"] is False and all(p["hari"] == {} for p in closed.json()["pegawai"])


def test_one_employees_month_explains_each_deduction_in_bahasa_indonesia(client):
    city = client.city
    fajar = city.nip("Fajar Tuhumury")
    d = client.get(f"/view/employee/{fajar}", headers=login(client, "kadis-dinkes")).json()
    assert d["nama"] == "Fajar Tuhumury" and d["sementara"]
    assert d["potongan"] and all(x["aturan"] and "late" not in x["aturan"] and "no valid punch" not in x["aturan"]
                                 for x in d["potongan"])
    assert any("tanpa cuti atau surat tugas" in x["aturan"] for x in d["potongan"] if x["kode"] == "TK")
    assert any(line.startswith("SEMENTARA per 24-11-2026 10:30 WIT") for line in d["penjelasan"])
    assert d["penjelasan"][-1].startswith("TPP diterima Rp")
    komponen = next(line for line in d["penjelasan"] if line.startswith("Komponen disiplin"))
    # Whole rupiah, written as everywhere in the app (Rp 1.234.567), no policy keys in a rule.
    assert re.fullmatch(r"Komponen disiplin Rp \d{1,3}(\.\d{3})*; komponen produktivitas Rp \d{1,3}(\.\d{3})* .*",
                        komponen)
    assert not any("_code" in line or "tk_percent" in line for line in d["penjelasan"])
    assert not any(re.search(r"\d\.\d+%", line) for line in d["penjelasan"])  # 0,5%, not 0.5%
    assert d["hari"][-1] == {**d["hari"][-1], "tanggal": "2026-11-24", "kode": "BELUM_HADIR", "sementara": True}


def test_an_employee_sees_only_their_own_month(client):
    city = client.city
    ani, budi = city.nip("Ani Lestari"), city.nip("Budi Santoso")
    headers = login(client, "ani")
    assert client.get(f"/view/employee/{ani}", headers=headers).json()["nama"] == "Ani Lestari"
    assert client.get(f"/view/employee/{budi}", headers=headers).status_code in (403, 404)
    for path in ("/view/today", "/view/month", "/review", "/view/devices"):
        assert client.get(path, headers=headers, params={"opd": "DINKES"}).status_code == 403, path


def test_an_opd_user_sees_only_its_opd(client):
    city = client.city
    headers = login(client, "kadis-disdik")
    for path in ("/view/today", "/view/month", "/review", "/view/devices"):
        assert client.get(path, headers=headers, params={"opd": "DINKES"}).status_code in (403, 404), path
    assert client.get(f"/view/employee/{city.nip('Ani Lestari')}", headers=headers).status_code in (403, 404)
    assert client.get("/view/today", headers=headers).json()["opd"]["kode"] == "DISDIK"


def test_readers_of_every_opd_name_one(client):
    headers = login(client, "bkpsdm")
    r = client.get("/view/today", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "opd"
    assert client.get("/view/today", headers=headers, params={"opd": "NOPE"}).status_code == 404


def test_review_lists_what_was_not_counted_and_why(client):
    r = client.get("/review", headers=login(client, "kadis-dinkes")).json()
    assert r["tanggal"] == "2026-11-24"
    why = {(b["jenis"], b["nama"]): b for b in r["butir"]}
    assert why[("presensi", "Fajar Tuhumury")]["alasan"].startswith("uji wajah hidup gagal")  # main adds the cue
    assert why[("presensi", "Joko Siahaya")]["alasan"] == "di luar radius lokasi"
    assert why[("presensi", "Joko Siahaya")]["perangkat"] == "hp-dinkes-02"
    assert why[("tidak_dikenali", None)]["waktu"] == "07:40:00"
    refused = why[("ditolak", None)]
    assert refused["alasan"].startswith("tanda tangan digital tidak sah") and refused["perangkat"] == "pi-dinkes-01"
    assert [b["waktu"] for b in r["butir"]] == sorted(b["waktu"] for b in r["butir"])
    # Each item carries its own WIT date: a punch after midnight in the previous day's window shows it.
    assert {b["hari"] for b in r["butir"]} == {r["tanggal"]}
    other = client.get("/review", headers=login(client, "kadis-disdik")).json()
    assert other["butir"] == []


def test_review_says_in_bahasa_why_a_punch_outside_the_windows_did_not_count(client):
    city = client.city
    item = city.event("pi-dinkes-01", city.nip("Budi Santoso"), NOW.replace(hour=6, minute=10))
    city.store.put([item])
    client.app.state.results.on_stored(item)
    r = client.get("/review", headers=login(client, "kadis-dinkes")).json()
    early = next(b for b in r["butir"] if b["event"] == item.key)
    assert early["alasan"] == "lebih dari 30 menit sebelum jam masuk (07:30): tidak dihitung sebagai presensi masuk"


def test_devices_are_online_only_when_heard_from_recently(client):
    d = client.get("/view/devices", headers=login(client, "kadis-dinkes")).json()
    rows = {x["perangkat"]: x for x in d["perangkat"]}
    assert set(rows) == {"pi-dinkes-01", "hp-dinkes-02"}
    assert rows["pi-dinkes-01"]["online"] and rows["pi-dinkes-01"]["peringatan"] == []
    field = rows["hp-dinkes-02"]
    assert not field["online"] and field["status"] == "online"  # its retained state says online: it is not
    assert "tidak terhubung sejak 2 jam lalu" in field["peringatan"]
    assert "antrean 740 presensi belum terkirim" in field["peringatan"]
    assert d["lokasi"][0]["nama"] == "Kantor Dinas Kesehatan"
    assert d["surat_tugas"][0]["tujuan"] == "Puskesmas Masohi"
    checkins = {x["nama"]: x for x in d["presensi_lapangan"]}
    assert checkins["Hendra Sahetapy"]["dihitung"] and not checkins["Joko Siahaya"]["dihitung"]
    assert checkins["Joko Siahaya"]["alasan"] == "di luar radius lokasi"


def test_the_hub_feeds_the_web_apps_results_with_every_event_it_stores(tmp_path):
    from webapp_city import City

    from hub.api.app import app_for_hub
    from hub.config import HubSettings
    from hub.master import Employee, Opd, User, hash_password
    from hub.service import Hub
    from hub.store.base import StoredEvent

    hub = Hub(HubSettings(data_dir=tmp_path, map={"tiles_url": "https://peta.ambon.go.id/{z}/{x}/{y}.png"}))
    hub.master.add("setup", Opd(code="DINKES", name="Dinas Kesehatan"))
    hub.master.add("setup", Employee(nip="1987001", name="Ani", opd_code="DINKES", tpp_base=1, start=NOW.date()))
    hub.master.add("setup", User(username="kadis", password_hash=hash_password(PASSWORD), role="opd",
                                 opd_code="DINKES"))
    app = app_for_hub(hub)
    app.state.results.clock = lambda: NOW
    app.state.results.poll_s = 3600.0  # no poll of the store during the test: only the hook brings the event
    with TestClient(app) as c:
        assert "https://peta.ambon.go.id" in c.get("/app/").headers["content-security-policy"]
        headers = login(c, "kadis")
        assert c.get("/view/today", headers=headers).json()["pegawai"][0]["kode"] == "BELUM_HADIR"
        from hadir.signing import new_key

        city = City(hub.store, hub.master, hub.registry, hub.quarantine, NOW, keys={"pi-dinkes-01": new_key()})
        item: StoredEvent = city.event("pi-dinkes-01", "1987001", NOW.replace(hour=7, minute=20))
        hub.store.put([item])
        hub._stored(item)  # what ingest calls after the store has committed the event
        row = c.get("/view/today", headers=headers).json()["pegawai"][0]
        assert row["kode"] == "BELUM_PULANG" and row["masuk"] == "07:20"
    hub.store.close()
