"""Raspberry Pi camera through picamera2 (imported lazily: it exists only on Raspberry Pi OS)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

from edge.capture.base import Frame, FrameHealth


class PiCameraSource:
    def __init__(self, width: int = 1280, height: int = 720):
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise OSError("picamera2 is not available: on Raspberry Pi OS run "
                          "'sudo apt install python3-picamera2' and create the venv with "
                          "--system-site-packages") from None
        self.camera = Picamera2()
        # RGB888 in libcamera's naming is BGR byte order in memory; ask for XBGR8888 -> RGB.
        config = self.camera.create_video_configuration(main={"size": (width, height), "format": "RGB888"})
        self.camera.configure(config)
        self.health = FrameHealth()

    def frames(self) -> Iterator[Frame]:
        self.camera.start()
        index = 0
        while True:
            bgr = self.camera.capture_array("main")
            rgb = bgr[:, :, ::-1].copy()
            self.health.check(rgb)
            yield Frame(rgb, datetime.now(timezone.utc), index)
            index += 1

    def close(self) -> None:
        self.camera.stop()
