"""Geofences (evaluated at the hub, which decides) and spoofed-location heuristics."""

from __future__ import annotations

from datetime import date, timedelta

from helpers import T0, event

from hadir.contract import EventKind, GpsFix
from hadir.geo import Place, distance_m, inside_any
from hub.ingest.gps_checks import GpsHistory
from hub.payroll.punches import punches_by_employee
from hub.store.base import StoredEvent

BALAI_KOTA = (-3.6954, 128.1814)
NIP = "1987001"


def fix(lat, lon, **kw) -> GpsFix:
    return GpsFix(lat=lat, lon=lon, mode=3, sats_used=kw.pop("sats", 8), hdop=0.9, **kw)


def field(seq, gps, device="hp-lurah-01", at=None):
    ev = event(device, seq, employee=NIP, gps=gps, at=at)
    return StoredEvent(ev.model_copy(update={"kind": EventKind.FIELD_CHECKIN}), T0)


def test_distance_and_places():
    # Balai Kota Ambon to Pattimura airport: about 10.4 km across the bay (0.0923 deg of longitude, 0.0149 of
    # latitude, near the equator).
    assert 10_200 < distance_m(*BALAI_KOTA, -3.7103, 128.0891) < 10_600
    office = Place(*BALAI_KOTA, 100, "Balai Kota")
    duty = Place(-3.65, 128.20, 200, "SPT 12", date(2026, 11, 24), date(2026, 11, 25))
    assert inside_any([office], -3.6955, 128.1815, date(2026, 11, 24)) is office
    assert inside_any([office], -3.70, 128.19, date(2026, 11, 24)) is None
    assert inside_any([duty], -3.6501, 128.2001, date(2026, 11, 23)) is None
    assert inside_any([duty], -3.6501, 128.2001, date(2026, 11, 24)) is duty


def test_only_check_ins_inside_a_place_count():
    places = {NIP: [Place(*BALAI_KOTA, 100, "Balai Kota")]}
    events = [field(1, fix(-3.69545, 128.18145)), field(2, fix(-3.70, 128.19)), field(3, None)]
    punches = punches_by_employee(events, places)[NIP]
    assert [(p.valid, p.reason) for p in punches] == [
        (True, None), (False, "di luar radius lokasi"), (False, "tanpa lokasi GPS")]
    # A mounted terminal (walk-past) without GPS is placed by its registration.
    walk = StoredEvent(event("pi-01", 1, employee=NIP), T0)
    assert punches_by_employee([walk], places)[NIP][0].valid
    # No sites configured: no geofence at all.
    assert all(p.valid for p in punches_by_employee(events[:2])[NIP])


def test_copied_coordinates_and_impossible_jumps_are_flagged(tmp_path):
    history = GpsHistory(tmp_path / "gps.sqlite")
    a = event("hp-a-01", 1, gps=fix(-3.6954321, 128.1814321))
    assert history.check(a) == []
    assert history.check(a) == []  # the same event again (a resend) is not a copy of itself
    copied = event("hp-b-02", 1, gps=fix(-3.6954321, 128.1814321))
    assert history.check(copied) == ["gps_duplicate_coordinates"]
    next_day = event("hp-a-01", 2, gps=fix(-3.6954321, 128.1814321), at=T0 + timedelta(days=1))
    assert "gps_duplicate_coordinates" in history.check(next_day)
    jump = event("hp-a-01", 3, gps=fix(-3.2954, 128.1814), at=T0 + timedelta(days=1, minutes=2))  # 44 km
    assert "gps_impossible_speed" in history.check(jump)
    walk = event("hp-c-03", 1, gps=fix(-3.6000, 128.1000), at=T0)
    drive = event("hp-c-03", 2, gps=fix(-3.6100, 128.1100), at=T0 + timedelta(minutes=10))  # 1.6 km
    assert history.check(walk) == [] and history.check(drive) == []
    terminal = event("pi-x-01", 1, gps=GpsFix(lat=-3.6954321, lon=128.1814321, mode=3, sats_used=0, fixed_site=True))
    assert history.check(terminal) == []


def test_device_feedback_in_bahasa_indonesia():
    from edge.gps.feedback import feedback

    office = [Place(*BALAI_KOTA, 100, "Balai Kota")]
    day = date(2026, 11, 24)
    assert feedback(fix(-3.69545, 128.18145), office, day) == (True, "Lokasi sesuai: Balai Kota.")
    ok, msg = feedback(fix(-3.70, 128.19), office, day)
    assert not ok and msg.startswith("Di luar radius: ") and "Balai Kota (batas 100 m)" in msg
    assert feedback(None, office, day)[0] is False
