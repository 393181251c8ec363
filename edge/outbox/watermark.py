"""The outbox's high-water mark: the last sequence number the device issued, kept in a tiny file beside it.

The outbox itself cannot say what it lost: a 0-byte file, a file replaced by an older image or a WAL
lost after a kill (committed events not yet checkpointed) all open as a smaller, self-consistent
outbox. This file is written and fsynced right after each event's commit, so at the next start
`issued` > what the outbox holds means events were recorded and are gone; `unacked_from` (the oldest event
not yet acknowledged at that moment) bounds the range that may never have reached the hub.

Two fixed 32-byte slots written alternately with a counter and a CRC: a write torn by a power cut
leaves the other slot valid, and one `fdatasync` per event is the whole cost.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

_SLOT = struct.Struct("<4sQQQ")  # magic, counter, issued, unacked_from; then a CRC32 of those
_SLOT_SIZE = _SLOT.size + 4
_MAGIC = b"HWM1"


@dataclass(frozen=True)
class Mark:
    issued: int  # the last sequence number issued (its epoch's number 0: none issued in that epoch yet)
    unacked_from: int  # the oldest sequence number of that epoch not acknowledged when `issued` was written


def _pack(counter: int, mark: Mark) -> bytes:
    body = _SLOT.pack(_MAGIC, counter, mark.issued, mark.unacked_from)
    return body + struct.pack("<I", zlib.crc32(body))


def _unpack(raw: bytes) -> tuple[int, Mark] | None:
    if len(raw) != _SLOT_SIZE:
        return None
    body, (crc,) = raw[:_SLOT.size], struct.unpack("<I", raw[_SLOT.size:])
    if zlib.crc32(body) != crc:
        return None
    magic, counter, issued, unacked_from = _SLOT.unpack(body)
    return (counter, Mark(issued, unacked_from)) if magic == _MAGIC else None


class Watermark:
    """`<outbox>.hwm`. `state` after opening: "ok", "missing" (no file) or "damaged" (no valid slot)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.state: Literal["ok", "missing", "damaged"] = "missing"
        self.mark: Mark | None = None
        self._counter = 0
        self._fd: int | None = None
        if self.path.exists():
            raw = self.path.read_bytes()
            slots = [s for s in (_unpack(raw[i:i + _SLOT_SIZE]) for i in (0, _SLOT_SIZE)) if s is not None]
            if slots:
                self._counter, self.mark = max(slots, key=lambda s: s[0])
                self.state = "ok"
            else:
                self.state = "damaged"

    def write(self, mark: Mark) -> None:
        """Durably record `mark` (returns after fdatasync)."""
        if self._fd is None:
            created = not self.path.exists()
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            if created or os.fstat(self._fd).st_size != 2 * _SLOT_SIZE:
                os.pwrite(self._fd, b"\0" * 2 * _SLOT_SIZE, 0)
                os.fsync(self._fd)
                _fsync_dir(self.path.parent)  # the new file's name must survive a power cut too
        self._counter += 1
        os.pwrite(self._fd, _pack(self._counter, mark), (self._counter % 2) * _SLOT_SIZE)
        os.fdatasync(self._fd)
        self.mark = mark
        self.state = "ok"

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
