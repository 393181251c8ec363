"""The camera interface: every source yields RGB frames stamped with a capture time."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    rgb: np.ndarray = field(repr=False)
    at: datetime  # capture time, UTC
    index: int


class FrameSource(Protocol):
    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class FrameHealth:
    """Warns (once per episode) when frames are too dark or frozen: a covered or stuck camera."""

    def __init__(self, dark_below: float = 20.0, frozen_after: int = 50):
        self.dark_below, self.frozen_after = dark_below, frozen_after
        self._last_sig: np.ndarray | None = None
        self._same = 0
        self.dark = self.frozen = False

    def check(self, rgb: np.ndarray) -> list[str]:
        warnings = []
        small = rgb[::16, ::16].astype(np.int16)
        dark = float(small.mean()) < self.dark_below
        if dark and not self.dark:
            warnings.append(f"frames too dark (mean {small.mean():.0f}): check the lighting or lens cover")
        self.dark = dark
        same = self._last_sig is not None and self._last_sig.shape == small.shape and \
            float(np.abs(small - self._last_sig).mean()) < 0.5
        self._same = self._same + 1 if same else 0
        frozen = self._same >= self.frozen_after
        if frozen and not self.frozen:
            warnings.append(f"camera frozen: {self._same} identical frames")
        self.frozen = frozen
        self._last_sig = small
        for w in warnings:
            log.warning(w)
        return warnings
