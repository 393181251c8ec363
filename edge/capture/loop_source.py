"""A video file played as if it were a live camera: in real time, looping, frames stamped with the clock.

For a demonstration kiosk and for tests of the field device, where a person stands in front of the
camera for as long as the check-in takes. Like a live camera it drops frames when processing falls behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import cv2

from edge.capture.base import Frame, FrameHealth


class LoopingFileSource:
    def __init__(self, path: str, clock=None):
        self.path = path
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.health = FrameHealth()
        self._cap: cv2.VideoCapture | None = None

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise OSError(f"cannot open video file {self.path!r}")
        return cap

    def frames(self) -> Iterator[Frame]:
        index = 0
        while True:
            self._cap = self._open()
            fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
            began, shown = time.monotonic(), 0
            while True:
                # Where a live camera would be now: skip frames we are late for, wait for early ones.
                due = int((time.monotonic() - began) * fps)
                while shown < due - 1 and self._cap.grab():
                    shown += 1
                ok, bgr = self._cap.read()
                if not ok:
                    break
                shown += 1
                wait = began + shown / fps - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                self.health.check(rgb)
                yield Frame(rgb, self.clock(), index)
                index += 1
            self._cap.release()
            if index == 0:
                raise OSError(f"video file {self.path!r} has no frames")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
