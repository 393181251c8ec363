"""OpenCV sources: a video file, a USB camera index, an RTSP URL or a GStreamer pipeline (Jetson CSI)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import cv2

from edge.capture.base import Frame, FrameHealth

log = logging.getLogger(__name__)


class OpenCvSource:
    """Live sources reconnect with exponential back-off; a file ends when it ends.

    For a file, `start_at` sets the capture time of its first frame and later frames follow the file's
    frame rate (used for recorded or generated test videos); live frames are stamped with `clock()`.
    """

    def __init__(self, uri: str | int, *, gstreamer: bool = False, start_at: datetime | None = None,
                 max_backoff_s: float = 30.0, max_reconnects: int | None = None, clock=None):
        self.uri, self.gstreamer, self.start_at = uri, gstreamer, start_at
        self.is_file = isinstance(uri, str) and not gstreamer and "://" not in uri
        self.max_backoff_s, self.max_reconnects = max_backoff_s, max_reconnects
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.health = FrameHealth()
        self._cap: cv2.VideoCapture | None = None

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.uri), cv2.CAP_GSTREAMER) if self.gstreamer else cv2.VideoCapture(self.uri)
        if not cap.isOpened():
            raise OSError(f"cannot open video source {self.uri!r}")
        return cap

    def frames(self) -> Iterator[Frame]:
        index, reconnects, backoff = 0, 0, 0.5
        while True:
            try:
                self._cap = self._cap or self._open()
            except OSError:
                if self.is_file:
                    raise
                reconnects += 1
                if self.max_reconnects is not None and reconnects > self.max_reconnects:
                    raise
                log.warning("camera %s unavailable, retrying in %.1f s", self.uri, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
            ok, bgr = self._cap.read()
            if not ok:
                self._cap.release()
                self._cap = None
                if self.is_file:
                    return
                log.warning("camera %s dropped; reconnecting", self.uri)
                continue
            backoff = 0.5
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            self.health.check(rgb)
            if self.is_file and self.start_at is not None:
                at = self.start_at + timedelta(seconds=index / fps)
            else:
                at = self.clock()
            yield Frame(rgb, at, index)
            index += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
