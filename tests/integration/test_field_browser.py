"""The field device end to end, in a real browser: headless Chromium on the device's touch page, the agent
(`hadir-edge field`) fed a rendered video as its camera and a real gpsd fed NMEA, the hub (`hadir-hub run`)
with its embedded broker. Check-ins at the duty place, outside it, without a fix, with the hub down and
from a cold start offline; each reaches the hub's board. Screenshots land in tests/artifacts/browser/.

TEST CONFIGURATION, not for production: `challenge_checks = "geometry_only"` and the pool `turn_right`.
The camera is a video rendered from two still photos of one person (frontal, turned to their right): the
measured checks rightly refuse it (texture cue: not a live face; see tests/edge/test_field.py), so these
tests use the geometry-only head turn, which that montage answers. Drawing at random from the pool and
the measured checks are unit-tested.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from hadir.signing import new_key, public_key_b64, save_private_key
from hadir.wit import WIT
from hub.master import DutyOrder, Employee, MasterData, Opd, Site
from hub.registry import DeviceRegistry
from hub.service import hub_public_key_path
from hub.users import create_user
from testkit import localservices as services
from testkit.browser import chromium, screenshot, viewport
from testkit.walkpast import Scene, Visit, render

DEVICE, OPD, NIP, NAME = "pi-sirimau-01", "KEC-SIRIMAU", "person06", "Yohanis Latuheru"
DUTY = (-3.6954, 128.1814)  # Pasar Mardika, the duty order's destination
OFFICE = (-3.6900, 128.1900)
FAR = (-3.7134, 128.1814)  # 2 km south of the duty place
PASSWORD = "kapal-layar-88-sirimau"


@dataclass
class City:
    root: Path
    hub_dir: Path
    dev_dir: Path
    video: Path
    nmea: services.NmeaServer
    gpsd: services.Service
    mqtt_port: int
    api_port: int
    field_port: int
    broker_secret: str = ""  # the device's password on the hub's embedded broker (from its bundle)


@pytest.fixture(scope="module")
def city(tmp_path_factory, demo_gallery, pipeline, faces):
    root = tmp_path_factory.mktemp("field-city")
    hub_dir, dev_dir = root / "hub", root / "dev"
    master = MasterData(f"sqlite:///{hub_dir / 'master.sqlite'}")
    today = datetime.now(WIT).date()
    master.add("setup", Opd(code=OPD, name="Kecamatan Sirimau"))
    master.add("setup", Site(opd_code=OPD, name="Kantor Camat Sirimau", lat=OFFICE[0], lon=OFFICE[1], radius_m=100))
    master.add("setup", Employee(nip=NIP, name=NAME, opd_code=OPD))
    master.add("setup", DutyOrder(number="ST-094/KEC-SRM/2026", nip=NIP, start=today, end=today,
                                  destination="Pasar Mardika", lat=DUTY[0], lon=DUTY[1], radius_m=150))
    create_user(master, "setup", "camat", PASSWORD, "admin")
    master.engine.dispose()
    key = new_key()
    save_private_key(key, dev_dir / "device.key")
    demo_gallery.save(dev_dir / "gallery.npz")
    registry = DeviceRegistry.in_dir(hub_dir)
    registry.register(DEVICE, public_key_b64(key), opd=OPD)
    secret = registry.issue_broker_secret(DEVICE)
    (dev_dir / "hub.pub").write_text(hub_public_key_path(hub_dir).read_text())  # from the device bundle
    front, turned = faces / NIP / "img35.jpg", faces / NIP / "img34.jpg"
    visit = Visit(photos=[front] * 4 + [turned] * 2 + [front] * 2, frames=48, start_x=0.5, end_x=0.5, y=0.5,
                  start_face=0.32, end_face=0.32, gap_after=0, photo_every=6)
    video = render(Scene(visits=[visit], fps=12.0), root / "camera.avi", pipeline.detectors[0])
    nmea = services.NmeaServer(*DUTY)
    try:
        gpsd = services.start_gpsd(root / "gpsd", nmea)
    except FileNotFoundError as exc:
        nmea.close()
        pytest.fail(f"gpsd missing: {exc}")
    yield City(root, hub_dir, dev_dir, video, nmea, gpsd, services.free_port(), services.free_port(),
               services.free_port(), secret)
    gpsd.stop()
    nmea.close()


def spawn(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], stdout=open(log, "a"),  # noqa: SIM115
                            stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def stop(proc: subprocess.Popen, log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, log.read_text()[-3000:]


def start_hub(city: City) -> subprocess.Popen:
    proc = spawn(["hub.cli", "run"], city.root / "hub.log", {
        "HADIR_HUB_DATA_DIR": str(city.hub_dir), "HADIR_HUB_API_PORT": str(city.api_port),
        "HADIR_HUB_MQTT__PORT": str(city.mqtt_port), "HADIR_HUB_ASSIGNMENTS_EVERY_S": "1"})
    wait(lambda: _healthy(city.api_port), 60, "hub API up", proc, city.root / "hub.log")
    return proc


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_agent(city: City, name: str) -> subprocess.Popen:
    config = city.root / "edge.toml"
    config.write_text(f"""device_id = "{DEVICE}"
mode = "field"
kind = "field_checkin"
source = "loop:{city.video}"
data_dir = "{city.dev_dir}"
clock_source = "gps"
telemetry_every_s = 2.0
[mqtt]
port = {city.mqtt_port}
protocol = 311
username = "{DEVICE}"
password = "{city.broker_secret}"
reconnect_max_s = 2
[gps]
mode = "gpsd"
gpsd_port = {city.gpsd.port}
[recognition]
threads = 1
[field]
port = {city.field_port}
challenges = ["turn_right"]
challenge_checks = "geometry_only"
""")
    log = city.root / f"agent-{name}.log"
    proc = spawn(["edge.cli", "run", "--config", str(config)], log)
    wait(lambda: _page_up(city.field_port), 60, "field page up", proc, log)
    return proc


def _page_up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process died waiting for {what}:\n{log.read_text()[-3000:] if log else ''}")
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what}" + (f":\n{log.read_text()[-3000:]}" if log else ""))


def status(city: City) -> dict:
    return httpx.get(f"http://127.0.0.1:{city.field_port}/api/status", timeout=5).json()


def page_text(driver) -> str:  # noqa: ANN001
    return driver.find_element("tag name", "body").text


def check_in(driver, city: City) -> dict:  # noqa: ANN001
    """Press the big button on the page; wait for the result on the page; return it (device view)."""
    before = (status(city)["checkin"]["result"] or {}).get("key")
    wait(lambda: driver.find_element("id", "start").is_enabled(), 10, "start button")
    driver.find_element("id", "start").click()
    wait(lambda: "SEDANG PRESENSI" in page_text(driver) or status(city)["checkin"]["result"], 10, "session started")
    result = wait(lambda: (r := status(city)["checkin"]["result"]) and r.get("key") != before and r, 60,
                  "check-in result")
    wait(lambda: "Hasil presensi" in page_text(driver), 10, "result on the page")
    return result


def board(city: City) -> dict:
    token = httpx.post(f"http://127.0.0.1:{city.api_port}/auth/token",
                       json={"username": "camat", "password": PASSWORD}).json()["access_token"]
    rows = httpx.get(f"http://127.0.0.1:{city.api_port}/board/today", params={"opd": OPD},
                     headers={"Authorization": f"Bearer {token}"}).json()
    return next(r for r in rows if r["nip"] == NIP)


def stored(city: City, key: str) -> dict | None:
    """The event as the hub stored it (read-only look into its SQLite store)."""
    with sqlite3.connect(f"file:{city.hub_dir / 'events.sqlite'}?mode=ro", uri=True, timeout=5) as db:
        row = db.execute("SELECT doc FROM events WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


def event_of(doc: dict) -> dict:
    return doc.get("event", doc)


def move_gps(city: City, where: tuple[float, float] | None) -> None:
    if where is None:
        city.nmea.fix = False
    else:
        city.nmea.lat, city.nmea.lon = where
        city.nmea.fix = True


def test_check_ins_at_the_place_outside_it_and_without_fix_reach_the_hub(city, tmp_path):
    move_gps(city, DUTY)
    hub = start_hub(city)
    agent = start_agent(city, "online")
    driver = chromium(800, 480, profile=tmp_path / "profile")
    viewport(driver, 800, 480)
    try:
        driver.get(f"http://127.0.0.1:{city.field_port}/")
        wait(lambda: "Pasar Mardika" in page_text(driver), 30, "assignments from the hub on the page")
        wait(lambda: "Fix 3D" in page_text(driver) and "DI DALAM" in page_text(driver), 30, "GPS fix inside")
        assert "ST-094/KEC-SRM/2026" in page_text(driver) and NAME in page_text(driver)
        screenshot(driver, "field-01-ready")

        at_place = check_in(driver, city)
        assert at_place["nip"] == NIP and at_place["name"] == NAME and at_place["challenge_passed"]
        assert at_place["where"]["inside"] and at_place["gps"] and at_place["clock_source"] == "gps"
        wait(lambda: "Terkirim ke server" in page_text(driver), 30, "delivered on the page")
        screenshot(driver, "field-02-at-duty-place")
        ev = event_of(wait(lambda: stored(city, at_place["key"]), 30, "event at the hub"))
        assert ev["kind"] == "field_checkin" and ev["liveness"]["method"] == "active-turn_right-geometry"
        assert abs(ev["gps"]["lat"] - DUTY[0]) < 1e-4 and ev["clock_source"] == "gps"
        assert wait(lambda: board(city)["event_terakhir"] == at_place["key"], 20, "the board shows it")

        move_gps(city, FAR)
        wait(lambda: "DI LUAR" in page_text(driver), 30, "outside on the page")
        outside = check_in(driver, city)
        assert outside["where"]["inside"] is False and outside["where"]["distance_m"] > 1500
        wait(lambda: "Terkirim ke server" in page_text(driver), 30, "delivered on the page")
        assert "di luar radius" in page_text(driver).lower()
        screenshot(driver, "field-03-outside")
        ev = event_of(wait(lambda: stored(city, outside["key"]), 30, "outside event at the hub"))
        assert abs(ev["gps"]["lat"] - FAR[0]) < 1e-4  # recorded with what was measured; the hub decides
        assert wait(lambda: board(city)["event_terakhir"] == outside["key"], 20, "the board shows it")

        move_gps(city, None)
        wait(lambda: "Menunggu fix GPS" in page_text(driver), 30, "no fix on the page")
        assert "GPS belum fix" in page_text(driver)
        no_fix = check_in(driver, city)
        assert no_fix["gps"] is False and no_fix["nip"] == NIP
        wait(lambda: "Terkirim ke server" in page_text(driver), 30, "delivered on the page")
        assert "TANPA lokasi GPS" in page_text(driver)
        screenshot(driver, "field-04-no-fix")
        ev = event_of(wait(lambda: stored(city, no_fix["key"]), 30, "no-fix event at the hub"))
        assert ev["gps"] is None
    finally:
        driver.quit()
        move_gps(city, DUTY)
        stop(agent, city.root / "agent-online.log")
        stop(hub, city.root / "hub.log")


def test_cold_start_offline_records_with_hub_down_and_delivers_when_it_returns(city, tmp_path):
    # The device was provisioned and has been online once (it holds its assignments); now it starts in the
    # field with no signal and, at first, no GPS fix.
    if not (city.dev_dir / "assignments.json").exists():
        move_gps(city, DUTY)
        hub = start_hub(city)
        agent = start_agent(city, "first-contact")
        wait(lambda: status(city)["assignments"]["received"], 30, "assignments received once")
        stop(agent, city.root / "agent-first-contact.log")
        stop(hub, city.root / "hub.log")
    move_gps(city, None)
    agent = start_agent(city, "offline")
    driver = chromium(800, 480, profile=tmp_path / "profile")
    viewport(driver, 800, 480)
    hub = None
    try:
        driver.get(f"http://127.0.0.1:{city.field_port}/")
        wait(lambda: "Pasar Mardika" in page_text(driver), 30, "assignments from the device's disk")
        wait(lambda: "Server: luring" in page_text(driver), 30, "offline shown")
        wait(lambda: "Menunggu fix GPS" in page_text(driver), 30, "no fix yet")
        before_fix = check_in(driver, city)
        assert before_fix["gps"] is False and before_fix["clock_source"] != "gps"  # no fix yet: not GPS time
        assert not before_fix["delivered"]
        screenshot(driver, "field-05-cold-start-offline-no-fix")

        move_gps(city, DUTY)
        wait(lambda: "DI DALAM" in page_text(driver), 30, "fix inside")
        queued = check_in(driver, city)
        assert queued["where"]["inside"] and not queued["delivered"] and queued["clock_source"] == "gps"
        wait(lambda: "menunggu dikirim" in page_text(driver), 10, "queued on the page")
        assert status(city)["outbox"]["waiting"] >= 2
        screenshot(driver, "field-06-hub-down-queued")

        hub = start_hub(city)
        wait(lambda: "Terkirim ke server" in page_text(driver), 60, "delivered after the hub came back")
        wait(lambda: status(city)["outbox"]["waiting"] == 0, 30, "outbox emptied")
        screenshot(driver, "field-07-delivered-after-reconnect")
        for key in (before_fix["key"], queued["key"]):
            assert wait(lambda k=key: stored(city, k), 30, f"{key} at the hub")
        assert event_of(stored(city, before_fix["key"]))["clock_source"] != "gps"
        assert wait(lambda: board(city)["event_terakhir"] == queued["key"], 20, "the board shows it")

        viewport(driver, 1100, 700)
        driver.get(f"http://127.0.0.1:{city.api_port}/dashboard")  # the old address: now the web app's board
        wait(lambda: driver.find_elements("id", "user"), 30, "the web app's login")
        driver.find_element("id", "user").send_keys("camat")
        driver.find_element("id", "pass").send_keys(PASSWORD)
        driver.find_element("css selector", "#loginForm button").click()
        wait(lambda: NAME in page_text(driver), 30, "the hub's board in the browser")
        screenshot(driver, "field-08-hub-board")
    finally:
        driver.quit()
        stop(agent, city.root / "agent-offline.log")
        if hub is not None:
            stop(hub, city.root / "hub.log")
