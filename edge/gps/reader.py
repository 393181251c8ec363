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
    min_sats: int = 4
    max_age_s: float = 10.0


class GpsProvider(Protocol):
    def current(self) -> GpsFix | None: ...

    def state(self) -> str: ...


class FixedSite:
    """A mounted terminal does not move: its surveyed coordinates, marked as configured, not measured."""

    def __init__(self, lat: float, lon: float):
        self.fix = GpsFix(lat=lat, lon=lon, mode=3, sats_used=0, fixed_site=True)

    def current(self) -> GpsFix | None:
        return self.fix

    def state(self) -> str:
        return "fixed_site"


class GpsdReader:
    """Follows gpsd's TPV and SKY reports in a thread; reconnects with back-off when gpsd goes away."""

    def __init__(self, host: str = "127.0.0.1", port: int = 2947, limits: FixLimits | None = None):
        self.host, self.port, self.limits = host, port, limits or FixLimits()
        self._lock = threading.Lock()
        self._tpv: dict | None = None
        self._tpv_at = 0.0
        self._sky: dict = {}
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
                                self._sky = report
                        if self._stop.is_set():
                            return
            except (OSError, ValueError) as exc:
                log.warning("gpsd %s:%d unavailable (%s); retrying in %.1f s", self.host, self.port, exc, backoff)
            self.connected.clear()
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    def _raw(self) -> tuple[dict | None, dict, float]:
        with self._lock:
            return self._tpv, dict(self._sky), time.monotonic() - self._tpv_at

    def current(self) -> GpsFix | None:
        """The latest fix if it is fresh and good enough by the limits; otherwise None."""
        tpv, sky, age = self._raw()
        if not tpv or age > self.limits.max_age_s or tpv.get("mode", 1) < self.limits.min_mode:
            return None
        if "lat" not in tpv or "lon" not in tpv:
            return None
        sats = int(sky.get("uSat") or sum(1 for s in sky.get("satellites", []) if s.get("used")))
        hdop = sky.get("hdop")
        if sats < self.limits.min_sats or (hdop is not None and hdop > self.limits.max_hdop):
            return None
        gps_time = tpv.get("time")
        if isinstance(gps_time, datetime) and gps_time.tzinfo is None:
            gps_time = gps_time.replace(tzinfo=timezone.utc)
        return GpsFix(lat=tpv["lat"], lon=tpv["lon"], mode=int(tpv["mode"]), hdop=hdop, eph_m=tpv.get("eph"),
                      sats_used=sats, gps_time=gps_time if isinstance(gps_time, datetime) else None)

    def state(self) -> str:
        tpv, _, age = self._raw()
        if not self.connected.is_set() or tpv is None or age > self.limits.max_age_s:
            return "absent" if not self.connected.is_set() else "no_fix"
        return {2: "2d", 3: "3d"}.get(int(tpv.get("mode", 1)), "no_fix")
