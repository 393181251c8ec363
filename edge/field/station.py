"""The field device at work: the camera loop, the check-in in progress, and what the touch page shows.

The camera thread calls `step` for every frame; the page's HTTP thread reads `status()` and the preview.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime

import cv2
import numpy as np

from edge.capture.base import Frame
from edge.config import FieldMode
from edge.field.assignments import AssignmentBook
from edge.field.challenge import random_challenge
from edge.field.session import CheckinSession, Phase, Result, largest
from edge.gps.feedback import feedback
from edge.gps.reader import GpsStatus
from edge.infer.pipeline import BadImage
from edge.runner import Device
from hadir.contract import AttendanceEvent, utcnow
from hadir.geo import distance_m
from hadir.wit import WIT

log = logging.getLogger(__name__)

PREVIEW_WIDTH = 480
GPS_STATES = {"absent": "GPS tidak terhubung", "no_fix": "Menunggu fix GPS", "2d": "Fix 2D", "3d": "Fix 3D",
              "fixed_site": "Lokasi tetap (terminal)", "none": "GPS tidak dipasang"}


def _wit(at: datetime | None, fmt: str = "%H:%M:%S") -> str | None:
    return at.astimezone(WIT).strftime(fmt) if at else None


class FieldStation:
    def __init__(self, device: Device, book: AssignmentBook, settings: FieldMode, rng: random.Random | None = None):
        self.device, self.book, self.settings = device, book, settings
        self.rng = rng or random.SystemRandom()
        self._lock = threading.Lock()
        self.session: CheckinSession | None = None
        self.result: Result | None = None
        self._result_at = 0.0
        self._preview: tuple[int, np.ndarray, np.ndarray | None] | None = None  # frame index, rgb, face box
        self._jpeg: tuple[int, bytes] | None = None
        self.frames = 0
        self.faces_now = 0
        self.recorded = 0  # events recorded by check-ins since start
        self._mesh = None
        self.meter = None
        if settings.challenge_checks == "measured":  # load the cue models now, not during the first check-in
            from edge.infer.cues import CueMeter

            self.meter = CueMeter(device.settings.recognition.threads)

    # -------------------------------------------------------------------------------- the camera thread
    def step(self, frame: Frame) -> None:
        try:
            detections = self.device.pipeline.detect(frame.rgb)
        except BadImage as exc:
            log.warning("frame %d skipped: %s", frame.index, exc)
            detections = []
        with self._lock:
            session = self.session
        result = session.step(frame, detections) if session else None
        box = session.face_box if session and session.phase is not Phase.DONE else None
        box = box if box is not None else (d.box if (d := largest(detections)) else None)
        with self._lock:
            self.frames += 1
            self.faces_now = len(detections)
            self._preview = (frame.index, frame.rgb, box)
            if session is not None and result is not None and self.session is session:
                self.session, self.result, self._result_at = None, result, time.monotonic()
                self.recorded += result.event is not None

    def _face_mesh(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        if self._mesh is None:  # loaded on the first blink challenge only
            from edge.infer.liveness import FaceMesh

            self._mesh = FaceMesh(self.device.settings.recognition.threads)
        return self._mesh.landmarks(rgb, box)[0]

    # ------------------------------------------------------------------------------ the page's requests
    def start_checkin(self) -> bool:
        """Begin a check-in (False when one is already running)."""
        with self._lock:
            if self.session is not None:
                return False
            challenge = random_challenge(self.settings.challenges, self.rng, self.settings.challenge_timeout_s,
                                         self.settings.challenge_checks, self.meter)
            started = utcnow().timestamp()  # the camera stamps frames with the same clock
            self.session = CheckinSession(self.device.agent, challenge, face_timeout_s=self.settings.face_timeout_s,
                                          started_at=started, mesh=self._face_mesh)
            self.result = None
        return True

    def cancel(self) -> None:
        with self._lock:
            if self.session is not None:
                self.result, self._result_at = self.session.cancel(), time.monotonic()
                self.session = None

    def preview_jpeg(self) -> bytes | None:
        with self._lock:
            preview, cached = self._preview, self._jpeg
        if preview is None:
            return None
        index, rgb, box = preview
        if cached and cached[0] == index:
            return cached[1]
        scale = PREVIEW_WIDTH / rgb.shape[1]
        small = cv2.resize(rgb, (PREVIEW_WIDTH, round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        if box is not None:
            x1, y1, x2, y2 = (int(v * scale) for v in box)
            cv2.rectangle(bgr, (x1, y1), (x2, y2), (80, 220, 80), 3)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 75])
        jpeg = buf.tobytes() if ok else None
        if jpeg:
            with self._lock:
                self._jpeg = (index, jpeg)
        return jpeg

    # ---------------------------------------------------------------------------------------- status
    def _gps(self) -> tuple[dict, GpsStatus | None]:
        gps = self.device.gps
        status = gps.status() if gps else None
        out = {"state": status.state if status else "none",
               "label": GPS_STATES[status.state if status else "none"],
               "usable": bool(status and status.fix), "refused": status.refused if status else "",
               "sats_used": status.sats_used if status else None, "sats_seen": status.sats_seen if status else None,
               "accuracy_m": round(status.eph_m, 1) if status and status.eph_m is not None else None,
               "hdop": status.hdop if status else None,
               "missing": list(status.fix.missing) if status and status.fix else []}
        return out, status

    def _where(self, fix, nip: str | None) -> dict:
        """Inside/outside and the distance to the nearest place that counts today (for `nip`, or anyone)."""
        today = datetime.now(WIT).date()
        places = self.book.places(today, nip)
        inside, message = feedback(fix, places, today)
        out = {"inside": inside if fix is not None and places else None, "message": message,
               "place": None, "distance_m": None, "radius_m": None}
        valid = [p for p in places if p.valid_on(today)]
        if fix is not None and valid:
            nearest = min(valid, key=lambda p: distance_m(p.lat, p.lon, fix.lat, fix.lon))
            out.update(place=nearest.label, distance_m=round(distance_m(nearest.lat, nearest.lon, fix.lat, fix.lon)),
                       radius_m=round(nearest.radius_m))
        if self.device.gps is None:
            out["message"] = "Perangkat ini tanpa GPS: presensi dicatat tanpa lokasi."
        elif fix is None:
            out["message"] = "GPS belum fix: presensi akan dicatat TANPA lokasi dan kemungkinan tidak dihitung."
        elif not places:
            out["message"] = "Belum ada lokasi tugas di perangkat ini: lokasi dicatat, server yang menilai."
        return out

    def _assignments(self) -> dict:
        today = datetime.now(WIT).date()
        current = self.book.current
        duties = [{"number": d.number, "nip": d.nip, "name": self.book.name_of(d.nip), "destination": d.destination,
                   "radius_m": round(d.radius_m), "start": d.start.strftime("%d-%m-%Y"),
                   "end": d.end.strftime("%d-%m-%Y"), "has_place": d.lat is not None and d.lon is not None}
                  for d in self.book.duties_on(today)]
        return {"received": current is not None, "issued_at": _wit(current.issued_at, "%d-%m-%Y %H:%M")
                if current else None, "refused": self.book.refused,
                "sites": [{"name": s.name, "radius_m": round(s.radius_m)} for s in current.sites] if current else [],
                "duty_orders": duties, "people": len(current.people) if current else 0}

    def _result(self, result: Result | None) -> dict | None:
        if result is None:
            return None
        event: AttendanceEvent | None = result.event
        out = {"outcome": result.outcome, "message": result.message, "challenge_passed": result.challenge_passed}
        if event is not None:
            delivered = not self.device.outbox.holds(event.key)
            out.update(key=event.key, nip=event.employee_id, name=self.book.name_of(event.employee_id),
                       time=_wit(event.captured_at), date=_wit(event.captured_at, "%d-%m-%Y"),
                       clock_source=event.clock_source.value, gps=event.gps is not None,
                       lat=event.gps.lat if event.gps else None, lon=event.gps.lon if event.gps else None,
                       delivered=delivered, where=self._where(event.gps, event.employee_id))
        return out

    def status(self) -> dict:
        with self._lock:
            session, result, result_at = self.session, self.result, self._result_at
            frames, faces = self.frames, self.faces_now
        if result is not None and time.monotonic() - result_at > self.settings.result_shown_s:
            result = None
        gps, gps_status = self._gps()
        link, outbox = self.device.link, self.device.outbox
        waiting = outbox.depth()
        checkin = {"active": session is not None, "phase": session.phase.value if session else None,
                   "prompt": (session.challenge.prompt if session.phase is Phase.CHALLENGE else
                              "Hadapkan wajah ke kamera") if session else None,
                   "challenge": session.challenge.kind if session else None,
                   "recognised": self.book.name_of(session.decision.employee_id) or session.decision.employee_id
                   if session and session.decision else None,
                   "result": self._result(result)}
        now = utcnow()
        return {
            "device_id": self.device.settings.device_id, "time": _wit(now), "date": _wit(now, "%d-%m-%Y"),
            "camera": {"frames": frames, "faces": faces},
            "gps": gps, "where": self._where(gps_status.fix if gps_status else None, None),
            "assignments": self._assignments(), "checkin": checkin,
            "outbox": {"waiting": waiting, "connected": link.connected.is_set(),
                       "last_delivery": _wit(link.last_ack_at, "%d-%m-%Y %H:%M:%S"),
                       "problem": link.connect_error},
        }
