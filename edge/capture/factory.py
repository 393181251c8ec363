"""Pick a frame source from a URI-like string, as given on the command line or in the device config."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from edge.capture.base import FrameSource


def open_source(spec: str, start_at: datetime | None = None) -> FrameSource:
    """`picamera2[:WxH]`, `usb:0`, `gst:<pipeline>`, `rtsp://...`, a folder of images, a video file, or
    `loop:<video file>` (played in real time, over and over, as a live camera: demonstrations, tests)."""
    if spec.startswith("picamera2"):
        from edge.capture.picamera_source import PiCameraSource

        w, h = (int(x) for x in spec.split(":", 1)[1].split("x")) if ":" in spec else (1280, 720)
        return PiCameraSource(w, h)
    if spec.startswith("loop:"):
        from edge.capture.loop_source import LoopingFileSource

        if not Path(spec[5:]).is_file():
            raise FileNotFoundError(f"source {spec!r}: no video file {spec[5:]!r}")
        return LoopingFileSource(spec[5:])
    from edge.capture.opencv_source import OpenCvSource

    if spec.startswith("usb:"):
        return OpenCvSource(int(spec[4:]))
    if spec.startswith("gst:"):
        return OpenCvSource(spec[4:], gstreamer=True)
    if "://" in spec:
        return OpenCvSource(spec)
    path = Path(spec)
    if path.is_dir():
        from edge.capture.folder_source import ImageFolderSource

        return ImageFolderSource(path, start_at=start_at)
    if not path.is_file():
        raise FileNotFoundError(f"source {spec!r} is neither a camera spec nor an existing file or folder")
    return OpenCvSource(str(path), start_at=start_at)
