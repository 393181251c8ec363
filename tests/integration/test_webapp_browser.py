"""The web app in a real browser (headless Debian Chromium driven by Selenium) against the real app under
uvicorn on 127.0.0.1: each role logs in and sees what it should, at 390 px (a phone) and 1280 px; live
check-ins arrive by name in WIT and survive a server restart; an employee cannot reach anyone else's data.

Screenshots go to $HADIR_ARTIFACTS (default tests/artifacts/webapp/), one per role, page and width.
"""

from __future__ import annotations

import csv
import http.server
import os
import re
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from webapp_city import NOW, PASSWORD, seed

from hub.api.app import create_app
from hub.config import MapSettings
from hub.ingest.metrics import IngestMetrics
from hub.master import DutyOrder
from hub.payroll.policy_file import load_policy
from testkit import browser
from testkit.localservices import free_port

ARTIFACTS = Path(os.environ.get("HADIR_ARTIFACTS") or Path(__file__).resolve().parent.parent / "artifacts") / "webapp"


@pytest.fixture(scope="module", autouse=True)
def chromium_installed():
    try:
        browser.ensure_chromium()
    except FileNotFoundError as exc:
        pytest.skip(f"SERVICE MISSING, test not run: {exc}")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed(tmp_path_factory.mktemp("city"))


class Server:
    """The app under uvicorn on a fixed loopback port; it can be stopped and started again (reconnects)."""

    def __init__(self, app):
        self.app, self.port = app, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive()


def serve(city, **kw) -> Server:
    app = create_app(store=city.store, master=city.master, registry=city.registry, policy=load_policy(),
                     metrics=IngestMetrics(), secret=b"browser-test", quarantine=city.quarantine,
                     clock=lambda: NOW, **kw)
    return Server(app)


@pytest.fixture
def city(seeded, tmp_path):
    c = seeded.copy_to(tmp_path / "city")
    yield c
    c.store.close()


@pytest.fixture
def hub(city):
    server = serve(city)
    yield server
    server.stop()


@pytest.fixture
def open_browser(tmp_path):
    sessions = []

    def make(width: int = 1280):
        d = browser.chromium(width, 900, downloads=tmp_path / "downloads")
        sessions.append(d)
        return d

    yield make
    for d in sessions:
        d.quit()


# ------------------------------------------------------------------------------------------------ helpers


def wait_for(d, condition, timeout: float = 20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout, poll_frequency=0.1).until(condition)


def css(d, selector: str):
    return d.find_elements("css selector", selector)


def wait_css(d, selector: str, timeout: float = 20):
    return wait_for(d, lambda d: css(d, selector) or False, timeout)[0]


def wait_text(d, selector: str, text: str, timeout: float = 20):
    """The first element matching `selector` whose text contains `text` (the page may redraw meanwhile)."""
    from selenium.common.exceptions import StaleElementReferenceException

    def found(d):
        try:
            return next((e for e in css(d, selector) if text in e.text), False)
        except StaleElementReferenceException:
            return False

    return wait_for(d, found, timeout)


def login(d, base: str, user: str, password: str = PASSWORD) -> None:
    d.get(base + "/app/")
    wait_css(d, "#user").send_keys(user)
    css(d, "#pass")[0].send_keys(password)
    css(d, "#loginForm button")[0].click()
    wait_css(d, "#tabs a")


def go(d, page: str) -> None:
    d.execute_script("location.hash = arguments[0]", f"#/{page}")


def set_value(d, element, value: str) -> None:
    """Date and time inputs: set the value as the page reads it, whatever the browser's display format."""
    d.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input'));"
                     "arguments[0].dispatchEvent(new Event('change'))", element, value)


def shot(d, name: str) -> Path:
    """A full-page screenshot at the window's width, saved as an artefact."""
    width = d.execute_script("return window.innerWidth")
    height = d.execute_script("return document.documentElement.scrollHeight")
    size = d.get_window_size()
    d.set_window_size(size["width"], min(max(height + 120, 600), 6000))
    d.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{width}px.png"
    d.save_screenshot(str(path))
    d.set_window_size(size["width"], size["height"])
    return path


def fits_the_width(d) -> bool:
    """Nothing makes the page scroll sideways, and every menu entry is in sight (none hidden past the edge)."""
    return d.execute_script("""
        const w = window.innerWidth;
        const tabs = [...document.querySelectorAll('#tabs a')].map((a) => a.getBoundingClientRect());
        return document.documentElement.scrollWidth <= w + 1 && tabs.every((r) => r.left >= 0 && r.right <= w + 1);
    """)


RAW = re.compile(r"\w+_\w+|\b(?:online|offline|fixed_site|3d|PUT|GET|POST|null|undefined|missing)\b|/ramadan")
RUPIAH = re.compile(r"Rp ?[\d.,]+")


def raw_words(d) -> list[str]:
    """Internal codes, enums, API paths or English that an officer would read on the page (visible text)."""
    return [m[0] for m in RAW.finditer(css(d, "#page")[0].text)]


def odd_rupiah(d) -> list[str]:
    """Amounts on the page not written the one way, "Rp 1.234.567" (no cents, dots for thousands)."""
    return [m[0] for m in RUPIAH.finditer(css(d, "#page")[0].text)
            if not re.fullmatch(r"Rp \d{1,3}(\.\d{3})*", m[0].rstrip(".,"))]


def console_errors(d) -> list[str]:
    return [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]


def tabs(d) -> list[str]:
    return [a.text for a in css(d, "#tabs a")]


# -------------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("width", [390, 1280])
def test_opd_head_sees_the_board_month_review_and_devices(hub, open_browser, city, width):
    d = open_browser(width)
    login(d, hub.url, "kadis-dinkes")
    assert tabs(d) == ["Hari ini", "Bulan ini / rekap", "Perlu ditinjau", "Cuti, surat tugas, koreksi", "Perangkat"]
    assert css(d, "#opdPick")[0].is_displayed() is False  # an OPD head has one OPD
    assert wait_css(d, ".page-head p.muted").text == "Selasa, 24 November 2026 · dihitung pukul 10:30 WIT"
    assert css(d, "#page h1")[0].text == "Hari ini — Dinas Kesehatan"
    counts = {c.get_attribute("data-count"): c.find_element("css selector", "strong").text for c in css(d, ".card")}
    assert counts == {"hadir": "8", "terlambat": "2", "belum_hadir": "2", "cuti": "1", "dl": "1", "tidak_dikenali": "1"}
    budi = css(d, f"tr[data-nip='{city.nip('Budi Santoso')}']")[0]
    assert "Budi Santoso" in budi.text and "07:48" in budi.text and "TL1 + Belum pulang*" in budi.text
    assert "terlambat 18 menit, belum presensi pulang" in budi.text
    assert "Belum hadir*" in css(d, f"tr[data-nip='{city.nip('Fajar Tuhumury')}']")[0].text
    # The coming Ramadan is not confirmed: said in words, with who acts, and no API path.
    ramadan = wait_css(d, "#ramadanWarning .notice").text
    assert "1448 H belum dikonfirmasi" in ramadan and "admin kota" in ramadan and "jam kerja biasa" in ramadan
    assert "PUT" not in ramadan and "/ramadan" not in ramadan
    # Sort by check-in time: the earliest first, those without a check-in last.
    d.find_element("css selector", ".controls select option[value='masuk']").click()
    names = [r.find_element("css selector", ".name").text for r in css(d, "table.list tbody tr")]
    assert names[0] == "Lukas Matulessy" and names[-1] in ("Fajar Tuhumury", "Gita Manuputty", "Joko Siahaya")
    # A count filters the list.
    css(d, ".card[data-count='terlambat']")[0].click()
    assert sorted(r.find_element("css selector", ".name").text for r in css(d, "table.list tbody tr")) == \
        ["Budi Santoso", "Eka Pattinama"]
    css(d, ".legend summary")[0].click()
    legend = css(d, ".legend")[0].text
    assert "TL3" in legend and "Terlambat 61–90 menit" in legend and "TL3+PSW4" in legend
    assert "Belum pulang" in legend and "alasan penting" in legend
    assert raw_words(d) == []
    assert fits_the_width(d)
    wait_text(d, "#liveState", "Tersambung")
    shot(d, "opd-hari-ini")

    go(d, "bulan")
    wait_text(d, "#page h1", "Rekap November 2026 — Dinas Kesehatan")
    assert "SEMENTARA" in wait_css(d, "#provisional").text
    assert len(css(d, "table.month tbody tr")) == 12
    budi_row = css(d, f"table.month tr[data-nip='{city.nip('Budi Santoso')}']")[0]
    assert "TL1 BP*" in budi_row.text and "Rp" in budi_row.text
    assert "BP = belum pulang" in css(d, "#page")[0].text and raw_words(d) == [] and odd_rupiah(d) == []
    shot(d, "opd-bulan")
    budi_row.click()
    detail = wait_css(d, "section.employee")
    assert "Budi Santoso — November 2026" in detail.text and "TPP diterima (sementara)" in detail.text
    assert "Penjelasan perhitungan TPP" in detail.text and "TPP dasar Rp" in detail.text
    assert css(d, ".calendar .cal-day")  # the calendar of codes
    if css(d, "table.deductions"):
        rule = css(d, "table.deductions tbody tr")[0].text
        assert "terlambat" in rule or "tidak presensi" in rule or "tanpa cuti" in rule
    # Amounts are written one way everywhere, the explanation's components included; no policy keys.
    explanation = css(d, "details.explain")[0].text
    assert "Komponen disiplin Rp " in explanation and ",00" not in explanation
    assert raw_words(d) == [] and odd_rupiah(d) == []
    assert fits_the_width(d)
    shot(d, "opd-bulan-pegawai")
    # A check-out that never came, explained without the policy's key.
    go(d, f"bulan?pegawai={city.nip('Ani Lestari')}")
    rules = wait_text(d, "table.deductions tbody", "tidak presensi pulang").text
    assert "missing" not in rules and "_code" not in rules
    wait_text(d, "details.explain", "tidak presensi pulang")
    assert raw_words(d) == [] and odd_rupiah(d) == []

    go(d, "tinjau")
    wait_text(d, "#page h1", "Perlu ditinjau — Dinas Kesehatan")
    rows = wait_for(d, lambda d: css(d, "table.review tbody tr") or False)
    text = "\n".join(r.text for r in rows)
    for words in ("uji wajah hidup gagal", "di luar radius lokasi", "Wajah tidak dikenali",
                  "tanda tangan digital tidak sah"):
        assert words in text
    assert len(css(d, "table.review button")) == 2  # a correction for each employee whose punch did not count
    assert raw_words(d) == []
    assert fits_the_width(d)
    shot(d, "opd-tinjau")

    go(d, "perangkat")
    alerts = wait_css(d, "#deviceAlerts").text
    assert "hp-dinkes-02: tidak terhubung sejak 2 jam lalu" in alerts
    assert "antrean 740 presensi belum terkirim" in alerts
    office, field = css(d, "tr[data-device='pi-dinkes-01']")[0].text, css(d, "tr[data-device='hp-dinkes-02']")[0].text
    assert "Daring" in office and "Lokasi tetap" in office and "kosong" in office
    assert "Luring" in field and "GPS 3D" in field and "2 jam lalu" in field and "740 belum terkirim" in field
    assert raw_words(d) == []
    assert css(d, "#map.leaflet-container.plain-map")  # no tiles configured: the coordinate view
    assert "ditampilkan sebagai koordinat saja" in css(d, "#page")[0].text
    coords = css(d, "table.coords")[0].text
    assert "Joko Siahaya" in coords and "-3.650000" in coords and "tidak: di luar radius lokasi" in coords
    assert fits_the_width(d)
    shot(d, "opd-perangkat")
    assert console_errors(d) == []


def test_a_correction_raised_from_the_review_list_counts_on_the_board_once_another_user_approves(hub, open_browser,
                                                                                                  city):
    d = open_browser(390)
    login(d, hub.url, "kadis-dinkes")
    go(d, "tinjau")
    fajar_nip = city.nip("Fajar Tuhumury")
    fajar = wait_text(d, "table.review tbody tr", "Fajar Tuhumury")
    fajar.find_element("css selector", "button").click()
    form = wait_css(d, "#correctionForm")
    assert form.find_element("css selector", "select[name=nip]").get_attribute("value") == fajar_nip
    assert form.find_element("css selector", "input[name=time]").get_attribute("value") == "07:22"
    year, month, day = map(int, form.find_element("css selector", "input[name=day]").get_attribute("value").split("-"))
    assert "disetujui oleh pengguna lain" in form.text  # this hub's four-eyes rule, said before submitting
    assert not form.find_elements("css selector", "input[name=approved_by]")
    form.find_element("css selector", "textarea[name=reason]").send_keys("liveness gagal karena silau; hadir, "
                                                                         "disaksikan kepala bidang")
    assert fits_the_width(d)
    shot(d, "opd-koreksi")
    form.find_element("css selector", "button[type=submit]").click()
    assert wait_css(d, "#formStatus .notice.ok").text == \
        "Koreksi untuk Fajar Tuhumury diajukan; menunggu persetujuan."
    row = wait_text(d, "table.list tbody tr", "Fajar Tuhumury")
    assert "menunggu persetujuan" in row.text
    # The WIT day and time of the punch (07:22 WIT is the day before in UTC: the list must not show that day).
    months = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
              "November", "Desember"]
    assert f"{day} {months[month - 1]} {year} 07:22" in row.text, row.text
    # The requester cannot approve it: the API refuses and the page says why, in Bahasa Indonesia.
    row.find_element("css selector", "button").click()  # Setujui
    assert wait_css(d, "#formStatus .notice.error").text == \
        "Koreksi harus disetujui oleh pengguna lain, bukan oleh pengajunya."
    go(d, "hari-ini")
    wait_text(d, f"tr[data-nip='{fajar_nip}']", "Belum hadir*")  # not counted while pending

    other = open_browser(1280)  # the city's IT admin approves
    login(other, hub.url, "admin")
    css(other, "#opdSelect option[value='DINKES']")[0].click()
    go(other, "pengajuan?form=koreksi")
    pending = wait_text(other, "table.list tbody tr", "Fajar Tuhumury")
    assert "menunggu persetujuan" in pending.text and "silau" in pending.text
    [approve] = [b for b in pending.find_elements("css selector", "button") if b.text == "Setujui"]
    approve.click()
    assert wait_css(other, "#formStatus .notice.ok").text == "Koreksi disetujui."
    assert "disetujui admin" in wait_text(other, "table.list tbody tr", "disetujui").text

    d.refresh()  # the OPD head's board counts it now
    row = wait_text(d, f"tr[data-nip='{fajar_nip}']", "Belum pulang*")
    assert "07:22" in row.text and "Belum hadir" not in row.text
    # Only the refused self-approval was an error in the console.
    assert [e for e in console_errors(d) if "/approve - " not in e or "403" not in e] == []
    assert console_errors(other) == []


def test_leave_and_a_duty_order_with_its_destination_picked_on_the_map(hub, open_browser, city):
    d = open_browser(1280)
    login(d, hub.url, "kadis-dinkes")
    budi = city.nip("Budi Santoso")
    go(d, "pengajuan?form=cuti")
    form = wait_css(d, "#leaveForm")
    form.find_element("css selector", f"select[name=nip] option[value='{budi}']").click()
    form.find_element("css selector", "select[name=type] option[value='sakit']").click()
    set_value(d, form.find_element("css selector", "input[name=start]"), "2026-11-24")
    set_value(d, form.find_element("css selector", "input[name=end]"), "2026-11-23")
    form.find_element("css selector", "button[type=submit]").click()
    error = wait_css(d, "#formStatus .notice.error").text
    assert error == "Isian tidak valid (tanggal selesai): sebelum tanggal mulai."  # the API's words, in Bahasa
    set_value(d, form.find_element("css selector", "input[name=end]"), "2026-11-25")
    form.find_element("css selector", "button[type=submit]").click()
    assert wait_css(d, "#formStatus .notice.ok").text == "Cuti Budi Santoso tersimpan."
    assert "sakit" in wait_text(d, "table.list tbody tr", "Budi Santoso").text
    go(d, "hari-ini")
    assert "CUTI" in wait_text(d, f"tr[data-nip='{budi}']", "CUTI").text

    go(d, "pengajuan?form=tugas")
    form = wait_css(d, "#dutyForm")
    wait_css(d, "#dutyMap.leaflet-container")
    form.find_element("css selector", f"select[name=nip] option[value='{city.nip('Dedi Latuconsina')}']").click()
    form.find_element("css selector", "input[name=number]").send_keys("095/ST/DINKES/XI/2026")
    form.find_element("css selector", "input[name=destination]").send_keys("RSUD Haulussy")
    set_value(d, form.find_element("css selector", "input[name=start]"), "2026-11-25")
    set_value(d, form.find_element("css selector", "input[name=end]"), "2026-11-26")
    css(d, "#dutyMap")[0].click()  # the middle of the map: the configured centre, Balai Kota Ambon
    lat = wait_for(d, lambda d: form.find_element("css selector", "input[name=lat]").get_attribute("value") or False)
    lon = form.find_element("css selector", "input[name=lon]").get_attribute("value")
    assert abs(float(lat) - -3.6954) < 0.01 and abs(float(lon) - 128.1814) < 0.01
    shot(d, "opd-surat-tugas")
    form.find_element("css selector", "button[type=submit]").click()
    assert "tersimpan" in wait_css(d, "#formStatus .notice.ok").text
    row = wait_text(d, "table.list tbody tr", "095/ST/DINKES/XI/2026").text
    assert "RSUD Haulussy" in row and lat[:6] in row
    saved = [x for x in city.master.list(DutyOrder) if x.number == "095/ST/DINKES/XI/2026"]
    assert len(saved) == 1 and saved[0].lat == pytest.approx(float(lat))
    assert [e for e in console_errors(d) if "/leave - " not in e or "422" not in e] == []  # the refused leave


def test_live_check_ins_arrive_by_name_in_wit_and_the_stream_reconnects(hub, open_browser, city):
    d = open_browser(1280)  # the browser runs in UTC: the times on the page are WIT because the app says so
    login(d, hub.url, "kadis-dinkes")
    wait_text(d, "#liveState", "Tersambung")
    app = hub.app
    joko, budi = city.nip("Joko Siahaya"), city.nip("Budi Santoso")

    def deliver(nip, minutes_before_now):
        item = city.event("pi-dinkes-01", nip, NOW - timedelta(minutes=minutes_before_now))
        city.store.put([item])
        app.state.broadcaster.publish(item)  # what the hub does with every stored event
        app.state.results.on_stored(item)

    deliver(joko, 1)
    item = wait_text(d, "#liveList li", "Joko Siahaya")
    assert item.text.startswith("10:29 Joko Siahaya") and joko not in item.text
    row = wait_text(d, f"tr[data-nip='{joko}']", "10:29")  # the board follows the event
    assert "TL4 + Belum pulang*" in row.text
    shot(d, "opd-langsung")

    hub.stop()
    wait_text(d, "#liveState", "Terputus — menyambung ulang", timeout=30)
    hub.start()
    wait_text(d, "#liveState", "Tersambung", timeout=40)
    deliver(budi, 0)
    assert wait_text(d, "#liveList li", "Budi Santoso").text.startswith("10:30 Budi Santoso")
    # While the hub was down the stream and the board's refresh could not connect; nothing else went wrong.
    assert [e for e in console_errors(d) if "checkins" not in e and "ERR_CONNECTION_REFUSED" not in e] == []


def test_payroll_office_reads_every_opd_and_downloads_the_exports(hub, open_browser, city, tmp_path):
    d = open_browser(1280)
    login(d, hub.url, "bkpsdm")
    assert tabs(d) == ["Hari ini", "Bulan ini / rekap", "Perlu ditinjau", "Perangkat"]  # no forms for payroll
    assert css(d, "#opdPick")[0].is_displayed()
    css(d, "#opdSelect option[value='DINKES']")[0].click()
    go(d, "bulan")
    wait_text(d, "#page h1", "Rekap November 2026 — Dinas Kesehatan")
    shot(d, "payroll-bulan")
    css(d, "#exportCsv")[0].click()
    assert "rekap-tpp-2026-11-DINKES.csv diunduh" in wait_css(d, ".notice.ok").text
    css(d, "#exportXlsx")[0].click()
    downloads = tmp_path / "downloads"
    files = wait_for(d, lambda _: sorted(p.name for p in downloads.glob("rekap-tpp-*"))
                     if len(list(downloads.glob("rekap-tpp-*[vx]"))) == 2 else False)
    assert files == ["rekap-tpp-2026-11-DINKES.csv", "rekap-tpp-2026-11-DINKES.xlsx"]
    # CSV for Excel in Indonesian settings (main's exports): a byte-order mark and ';' between fields.
    rows = list(csv.reader((downloads / files[0]).read_text(encoding="utf-8-sig").splitlines(), delimiter=";"))
    assert rows[0][:3] == ["NIP", "Nama", "OPD"] and {r[1] for r in rows[1:]} >= {"Budi Santoso", "Ani Lestari"}
    status = rows[0].index("Status")
    assert {r[status] for r in rows[1:]} == {"Sementara per 24-11-2026 10:30 WIT"}  # a time says its zone
    from openpyxl import load_workbook

    sheet = load_workbook(downloads / files[1]).active
    assert sheet.title == "DINKES" and sheet.max_row == 13
    assert sheet.cell(2, status + 1).value == "Sementara per 24-11-2026 10:30 WIT"
    go(d, "tinjau")
    wait_css(d, "table.review tbody tr")
    assert css(d, "table.review button") == []  # payroll reads the review list; it does not raise corrections
    css(d, "#opdSelect option[value='DISDIK']")[0].click()
    wait_text(d, "#page h1", "Perlu ditinjau — Dinas Pendidikan")
    browser.set_viewport(d, 390, 900)
    go(d, "hari-ini")
    wait_text(d, "table.list tbody tr", "Maria Tahapary")
    assert fits_the_width(d)
    shot(d, "payroll-hari-ini")
    assert console_errors(d) == []


@pytest.mark.parametrize("width", [390, 1280])
def test_a_month_that_has_not_begun_says_so_without_codes_or_amounts(hub, open_browser, city, width):
    d = open_browser(width)
    login(d, hub.url, "kadis-dinkes")
    go(d, "bulan?bulan=2026-12")
    note = wait_css(d, "#notStarted").text
    assert "Bulan ini belum dimulai" in note and "Desember 2026 dimulai Selasa, 1 Desember 2026" in note
    page = css(d, "#page")[0].text
    assert not css(d, "table.month") and not css(d, "#exportXlsx") and not css(d, "#provisional")
    assert "Rp" not in page and "SEMENTARA" not in page
    assert fits_the_width(d)
    shot(d, "opd-bulan-depan")
    go(d, f"bulan?bulan=2026-12&pegawai={city.nip('Budi Santoso')}")
    wait_css(d, "section.employee #notStarted")
    assert not css(d, ".calendar") and not css(d, "details.explain") and "Rp" not in css(d, "#page")[0].text
    go(d, "bulan?bulan=2026-11")  # the month under way stays provisional
    assert "SEMENTARA" in wait_css(d, "#provisional").text and not css(d, "#notStarted")
    employee = open_browser(width)
    login(employee, hub.url, "ani")
    go(employee, "saya?bulan=2026-12")
    assert "Bulan ini belum dimulai" in wait_css(employee, "#notStarted").text
    assert "Rp" not in css(employee, "#page")[0].text
    shot(employee, "pegawai-bulan-depan")
    assert console_errors(d) == [] and console_errors(employee) == []


def test_every_field_error_of_a_refused_form_is_said_in_bahasa_next_to_its_field(hub, open_browser, city):
    d = open_browser(390)
    login(d, hub.url, "kadis-dinkes")
    go(d, "pengajuan?form=tugas")
    form = wait_css(d, "#dutyForm")
    # What the browser would check itself is left to the API here (as with an older page or a changed hub).
    d.execute_script("arguments[0].noValidate = true; for (const e of arguments[0].elements) "
                     "e.removeAttribute('maxlength')", form)
    form.find_element("css selector", f"select[name=nip] option[value='{city.nip('Dedi Latuconsina')}']").click()
    form.find_element("css selector", "input[name=number]").send_keys("9" * 150)
    form.find_element("css selector", "input[name=destination]").send_keys("RSUD " * 50)
    set_value(d, form.find_element("css selector", "input[name=start]"), "2026-11-25")
    set_value(d, form.find_element("css selector", "input[name=end]"), "2026-11-26")
    set_value(d, form.find_element("css selector", "input[name=lat]"), "-100")
    set_value(d, form.find_element("css selector", "input[name=lon]"), "128.2")
    form.find_element("css selector", "button[type=submit]").click()
    notice = wait_css(d, "#formStatus .notice.error").text
    assert notice.startswith("Isian tidak valid: 3 isian perlu diperbaiki."), notice
    assert "nomor surat tugas: maksimal 100 karakter" in notice and "lintang: minimal -90" in notice
    errors = {e.get_attribute("data-field"): e.text for e in css(d, "#dutyForm .field-error")}
    assert errors == {"number": "maksimal 100 karakter", "destination": "maksimal 200 karakter",
                      "lat": "minimal -90"}, errors
    for name in errors:  # each next to its own input
        label = form.find_element("css selector", f"[name={name}]").find_element("xpath", "..")
        assert label.find_element("css selector", ".field-error").text == errors[name]
    assert "at most" not in css(d, "#page")[0].text and raw_words(d) == []
    assert fits_the_width(d)
    shot(d, "opd-surat-tugas-galat")
    # Put right, the same form goes through and the marks go.
    number = form.find_element("css selector", "input[name=number]")
    number.clear()
    number.send_keys("096/ST/DINKES/XI/2026")
    destination = form.find_element("css selector", "input[name=destination]")
    destination.clear()
    destination.send_keys("RSUD Haulussy")
    set_value(d, form.find_element("css selector", "input[name=lat]"), "-3.69")
    form.find_element("css selector", "button[type=submit]").click()
    assert "tersimpan" in wait_css(d, "#formStatus .notice.ok").text
    assert not css(d, "#dutyForm .field-error") and not css(d, "#dutyForm [aria-invalid]")


def test_a_locked_login_says_how_long_to_wait(hub, open_browser):
    d = open_browser(390)
    d.get(hub.url + "/app/")
    wait_css(d, "#user").send_keys("kadis-disdik")
    for attempt in range(6):  # five wrong passwords in a row lock the account (hub.users.LOCK_AFTER)
        css(d, "#pass")[0].clear()
        css(d, "#pass")[0].send_keys(f"salah-{attempt}")
        css(d, "#loginForm button")[0].click()
        wait_for(d, lambda d: css(d, "#loginError")[0].text and css(d, "#loginForm button")[0].is_enabled())
    message = css(d, "#loginError")[0].text
    # The duration comes from the API (Retry-After of hub.users.LOCK_FOR, 15 minutes), not from the page.
    assert message.startswith("Terlalu banyak percobaan masuk yang gagal: coba lagi dalam 15 menit."), message
    shot(d, "login-terkunci")


def test_admin_switches_opd(hub, open_browser, city):
    d = open_browser(390)
    login(d, hub.url, "admin")
    assert "Cuti, surat tugas, koreksi" in tabs(d)
    css(d, "#opdSelect option[value='DISDIK']")[0].click()
    wait_text(d, "#page h1", "Hari ini — Dinas Pendidikan")
    wait_text(d, "table.list .name", "Maria Tahapary")  # the heading comes first, the list when it arrives
    names = [e.text for e in css(d, "table.list .name")]
    assert "Maria Tahapary" in names and "Ani Lestari" not in names
    shot(d, "admin-hari-ini")
    go(d, "perangkat")
    wait_text(d, "#page h1", "Perangkat — Dinas Pendidikan")
    wait_text(d, "#page .notice.ok", "Semua perangkat terhubung")
    shot(d, "admin-perangkat")
    assert console_errors(d) == []


@pytest.mark.parametrize("width", [390, 1280])
def test_an_employee_sees_their_own_days_and_tpp_and_nobody_elses(hub, open_browser, city, width):
    d = open_browser(width)
    login(d, hub.url, "ani")
    assert tabs(d) == ["Kehadiran saya"]
    detail = wait_css(d, "section.employee")
    assert "November 2026" in detail.text and f"NIP {city.nip('Ani Lestari')}" in detail.text
    assert "TPP diterima (sementara)" in detail.text and "SEMENTARA per 24-11-2026 10:30 WIT" in detail.text
    assert css(d, ".calendar .cal-day[data-date='2026-11-24'] .code")[0].text == "BP*"
    assert fits_the_width(d)
    shot(d, "pegawai-saya")
    budi = city.nip("Budi Santoso")
    for page in ("hari-ini", f"bulan?pegawai={budi}", "tinjau", "perangkat"):
        go(d, page)
        assert "bukan untuk peran Anda" in wait_css(d, "#page .notice.error").text
    # Asking the API directly with this tab's own token does not help either.
    statuses = d.execute_async_script("""
        const [nip, done] = arguments;
        const h = { Authorization: 'Bearer ' + sessionStorage.getItem('hadir_token') };
        Promise.all([`/view/employee/${nip}`, '/view/today?opd=DINKES', '/view/month?opd=DINKES',
                     `/tpp/${nip}?month=2026-11`, `/attendance?start=2026-11-01&end=2026-11-24&nip=${nip}`,
                     '/review?opd=DINKES', '/view/devices?opd=DINKES']
          .map((p) => fetch(p, { headers: h }).then((r) => r.status))).then(done);
    """, budi)
    assert all(s in (403, 404) for s in statuses), statuses
    go(d, "saya")
    wait_css(d, "section.employee")
    assert "Budi" not in css(d, "body")[0].text


def test_wrong_password_and_an_expired_session_are_said_in_bahasa_indonesia(hub, open_browser):
    d = open_browser(390)
    d.get(hub.url + "/app/")
    wait_css(d, "#user").send_keys("kadis-dinkes")
    css(d, "#pass")[0].send_keys("salah-sandi")
    css(d, "#loginForm button")[0].click()
    assert wait_text(d, "#loginError", "salah").text == "Nama pengguna atau kata sandi salah."
    shot(d, "login-gagal")
    login(d, hub.url, "kadis-dinkes")
    d.execute_script("sessionStorage.setItem('hadir_token', 'bukan.token'); location.hash = '#/bulan';"
                     "location.reload()")
    assert wait_text(d, "#loginError", "Sesi").text == "Sesi Anda berakhir. Silakan masuk lagi."


class _Tiles(http.server.BaseHTTPRequestHandler):
    """A stand-in for the city's tile server: one plain tile for every address, and a count of requests."""

    hits = 0
    png = b""

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.png)))
        self.end_headers()
        self.wfile.write(self.png)

    def log_message(self, *args) -> None:
        pass


def test_maps_use_the_tile_server_the_city_configured(city, open_browser):
    import cv2
    import numpy as np

    tile = np.full((256, 256, 3), (214, 230, 240), np.uint8)
    _Tiles.png = cv2.imencode(".png", tile)[1].tobytes()
    tiles = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    threading.Thread(target=tiles.serve_forever, daemon=True).start()
    server = serve(city, map_settings=MapSettings(
        tiles_url=f"http://127.0.0.1:{tiles.server_address[1]}/{{z}}/{{x}}/{{y}}.png", attribution="Peta Kota Ambon"))
    try:
        d = open_browser(1280)
        login(d, server.url, "kadis-dinkes")
        go(d, "perangkat")
        wait_css(d, "#map .leaflet-tile-loaded")
        assert not css(d, "#map.plain-map") and "Peta Kota Ambon" in css(d, ".leaflet-control-attribution")[0].text
        assert _Tiles.hits > 0
        time.sleep(0.5)
        shot(d, "opd-perangkat-ubin")
        assert console_errors(d) == []  # the page's policy lets the city's tiles in and nothing else
    finally:
        server.stop()
        tiles.shutdown()
