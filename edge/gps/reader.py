"""GPS for the device: a reconnecting gpsd client, or fixed coordinates for a mounted terminal."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from hadir.contract import GpsFix

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FixLimits:
    min_mode: int = 2
    max_hdop: float = 5.0
    max_eph_m: float = 50.0  # gpsd's horizontal error estimate (95 %), metres
    min_sats: int = 4  # for a 3-D fix; a 2-D fix needs 3
    max_age_s: float = 10.0


@dataclass(frozen=True)
class GpsStatus:
    """What the receiver says now, and what an event recorded now would carry."""

    state: str  # absent | no_fix | 2d | 3d | fixed_site (as in telemetry)
    fix: GpsFix | None  # None: no usable fix, the event carries no GPS
    refused: str = ""  # why a fix the receiver reports is not used (a reported figure beyond the limits)
    sats_used: int | None = None
    sats_seen: int | None = None
    hdop: float | None = None
    eph_m: float | None = None


class GpsProvider(Protocol):
    def current(self) -> GpsFix | None: ...

    def state(self) -> str: ...

    def status(self) -> GpsStatus: ...


class FixedSite:
    """A mounted terminal does not move: its surveyed coordinates, marked as configured, not measured."""

    def __init__(self, lat: float, lon: float):
        self.fix = GpsFix(lat=lat, lon=lon, mode=3, sats_used=0, fixed_site=True)

    def current(self) -> GpsFix | None:
        return self.fix

    def state(self) -> str:
        return "fixed_site"

    def status(self) -> GpsStatus:
        return GpsStatus("fixed_site", self.fix)


def _sats(sky: dict) -> tuple[int | None, int | None]:
    """(satellites used, satellites seen) from a SKY report; None where it says nothing."""
    listed = sky.get("satellites")
    used = sky.get("uSat")
    seen = sky.get("nSat")
    if isinstance(listed, list) and listed:
        used = used if used is not None else sum(1 for s in listed if s.get("used"))
        seen = seen if seen is not None else len(listed)
    return (int(used) if used is not None else None), (int(seen) if seen is not None else None)


def assess(tpv: dict | None, sky: dict | None, limits: FixLimits, connected: bool = True) -> GpsStatus:
    """Judge a fix on what the receiver reports, and only on that.

    Many GPS modules send no satellite-in-view sentences (GSV), and then gpsd sends no SKY report: the
    satellite count and HDOP are unknown, not zero. Such a fix is used (the receiver's own mode says 2-D
    or 3-D) and the event lists what was missing; a figure that *is* reported must be within the limits.
    `tpv` and `sky` are the latest reports, already dropped by the caller when older than `max_age_s`.
    """
    if not connected:
        return GpsStatus("absent", None)
    mode = int(tpv.get("mode", 1)) if tpv else 1
    if not tpv or mode < max(2, limits.min_mode) or "lat" not in tpv or "lon" not in tpv:
        return GpsStatus("no_fix", None)
    state = {2: "2d", 3: "3d"}.get(mode, "no_fix")
    used, seen = _sats(sky or {})
    hdop = (sky or {}).get("hdop")
    eph = tpv.get("eph")
    gps_time = tpv.get("time")
    if isinstance(gps_time, datetime) and gps_time.tzinfo is None:
        gps_time = gps_time.replace(tzinfo=timezone.utc)
    gps_time = gps_time if isinstance(gps_time, datetime) else None
    figures = {"sats_used": used, "hdop": hdop, "eph_m": eph, "gps_time": gps_time}
    missing = [name for name, value in figures.items() if value is None]
    need = limits.min_sats if mode == 3 else min(3, limits.min_sats)
    refused = ""
    if used is not None and used < need:
        refused = f"{used} satellites used, at least {need} needed for a {mode}-D fix"
    elif hdop is not None and hdop > limits.max_hdop:
        refused = f"HDOP {hdop:.1f} above {limits.max_hdop:.1f}"
    elif eph is not None and eph > limits.max_eph_m:
        refused = f"horizontal error {eph:.0f} m above {limits.max_eph_m:.0f} m"
    fix = None if refused else GpsFix(lat=tpv["lat"], lon=tpv["lon"], mode=mode, hdop=hdop, eph_m=eph,
                                      sats_used=used, gps_time=gps_time, missing=missing)
    return GpsStatus(state, fix, refused, used, seen, hdop, eph)


class GpsdReader:
    """Follows gpsd's TPV and SKY reports in a thread; reconnects with back-off when gpsd goes away."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2947, limits: FixLimits | None = None):
        self.host, self.port, self.limits = host, port, limits or FixLimits()
        self._lock = threading.Lock()
        self._tpv: dict | None = None
        self._tpv_at = 0.0
        self._sky: dict = {}
        self._sky_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpsd", daemon=True)
        self.connected = threading.Event()

    def start(self) -> GpsdReader:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        from gpsdclient import GPSDClient

        backoff = 0.5
        while not self._stop.is_set():
            try:
                with GPSDClient(host=self.host, port=self.port, timeout=5) as client:
                    self.connected.set()
                    backoff = 0.5
                    for report in client.dict_stream(convert_datetime=True, filter=["TPV", "SKY"]):
                        with self._lock:
                            if report.get("class") == "TPV":
                                self._tpv, self._tpv_at = report, time.monotonic()
                            else:
                                # Merged: gpsd may send a SKY of DOPs only between ones listing satellites.
                                self._sky, self._sky_at = {**self._sky, **report}, time.monotonic()
                        if self._stop.is_set():
                            return
            except (OSError, ValueError) as exc:
                log.warning("gpsd %s:%d unavailable (%s); retrying in %.1f s", self.host, self.port, exc, backoff)
            self.connected.clear()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def _raw(self) -> tuple[dict | None, dict, float, float]:
        with self._lock:
            now = time.monotonic()
            return self._tpv, dict(self._sky), now - self._tpv_at, now - self._sky_at

    def status(self) -> GpsStatus:
        """The receiver's state and the fix an event recorded now would carry (see `assess`)."""
        tpv, sky, age, sky_age = self._raw()
        fresh = self.limits.max_age_s
        return assess(tpv if age <= fresh else None, sky if sky_age <= fresh else None, self.limits,
                      self.connected.is_set())

    def current(self) -> GpsFix | None:
        """The latest fix if it is fresh and what the receiver reports of it is within the limits."""
        return self.status().fix

    def state(self) -> str:
        return self.status().state
