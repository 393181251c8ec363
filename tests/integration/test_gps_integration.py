"""The edge GPS reader against a real gpsd fed by our own NMEA server."""

from __future__ import annotations

import time

from edge.gps.reader import FixedSite, FixLimits, GpsdReader


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return None


def test_reader_reports_a_good_fix_with_quality_and_time(gpsd):
    nmea = gpsd.extra["nmea"]
    nmea.fix, nmea.sats, nmea.hdop = True, 8, 0.9
    reader = GpsdReader(port=gpsd.port).start()
    try:
        fix = wait_for(reader.current)
        assert fix is not None, "no fix from gpsd within 10 s"
        assert abs(fix.lat - -3.6954) < 1e-4 and abs(fix.lon - 128.1814) < 1e-4
        assert fix.mode == 3 and fix.sats_used == 8 and fix.gps_time is not None
        assert reader.state() == "3d"
        # The same fix judged by stricter limits is refused.
        strict = GpsdReader(port=gpsd.port, limits=FixLimits(min_sats=10))
        strict._tpv, strict._sky = reader._raw()[:2]
        strict._tpv_at = strict._sky_at = time.monotonic()
        strict.connected.set()
        assert strict.current() is None
        # Losing the fix: the reader stops offering coordinates.
        nmea.fix = False
        assert wait_for(lambda: reader.current() is None)
    finally:
        nmea.fix = True
        reader.stop()


def test_a_receiver_without_satellite_reports_still_gives_a_fix_that_says_what_is_missing(tmp_path):
    """GGA + GSA + RMC, no GSV: gpsd reports a 3-D fix (TPV) but no SKY. Refusing it while telemetry says
    3-D would leave a working field device without location; it is used, and the event says what was
    not reported."""
    from testkit import localservices as services

    nmea = services.NmeaServer(-3.6954, 128.1814, gsv=False)
    gpsd = services.start_gpsd(tmp_path / "gpsd", nmea)
    reader = GpsdReader(port=gpsd.port).start()
    try:
        fix = wait_for(reader.current)
        assert fix is not None, f"no fix from a receiver without GSV: {reader.status()}"
        assert reader.state() == "3d" and fix.mode == 3
        assert fix.sats_used is None and "sats_used" in fix.missing and fix.eph_m is not None
        assert reader.status().sats_seen is None
    finally:
        reader.stop()
        gpsd.stop()
        nmea.close()


def test_reader_reconnects_when_gpsd_is_not_there_yet():
    reader = GpsdReader(port=1).start()  # nothing listens on port 1
    time.sleep(0.3)
    assert reader.current() is None and reader.state() == "absent"
    reader.stop()


def test_fixed_site_is_marked_as_configured():
    fix = FixedSite(-3.7, 128.18).current()
    assert fix.fixed_site and fix.sats_used == 0
