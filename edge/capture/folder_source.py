"""A folder of images as frames (sorted by name), e.g. for enrolment checks or replaying stills."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2

from edge.capture.base import Frame
from hadir.photo_folders import IMAGE_SUFFIXES

log = logging.getLogger(__name__)



def read_rgb(path: Path):
    """Read an image as RGB; None (with a logged reason) for unreadable or corrupt files."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        log.warning("cannot decode image %s: not an image or corrupt", path)
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class ImageFolderSource:
    def __init__(self, folder: Path, *, fps: float = 10.0, start_at: datetime | None = None):
        self.folder, self.fps = Path(folder), fps
        self.start_at = start_at or datetime.now(timezone.utc)

    def frames(self) -> Iterator[Frame]:
        files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for index, path in enumerate(files):
            rgb = read_rgb(path)
            if rgb is not None:
                yield Frame(rgb, self.start_at + timedelta(seconds=index / self.fps), index)

    def close(self) -> None:
        pass
