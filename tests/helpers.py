"""Small builders for signed, chained events used across tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hadir.contract import GENESIS_HASH, AttendanceEvent, ClockSource, EventKind, GpsFix, Liveness, seq_number
from hadir.signing import sign_event

T0 = datetime(2026, 11, 23, 22, 15, tzinfo=timezone.utc)  # 07:15 WIT on 24 Nov 2026


def event(device: str, seq: int, prev_hash: str = GENESIS_HASH, key=None, *, employee: str | None = "1987001",
          at: datetime | None = None, clock: ClockSource = ClockSource.NTP, gps: GpsFix | None = None,
          sign: bool = True) -> AttendanceEvent:
    ev = AttendanceEvent(
        key=f"{device}:{seq}", device_id=device, seq=seq,
        kind=EventKind.WALK_PAST if employee else EventKind.UNKNOWN_FACE, employee_id=employee,
        score=0.95, margin=0.05, frames=4, quality=0.8, liveness=Liveness(method="none", passed=True, score=0.0),
        captured_at=at or T0 + timedelta(seconds=seq_number(seq)), clock_source=clock, gps=gps,
        model_id="dlib_resnet_v1", gallery_version=1, prev_hash=prev_hash)
    return sign_event(ev, key) if sign and key is not None else ev


def chain(device: str, key, n: int, start_seq: int = 1, **kw) -> list[AttendanceEvent]:
    out, prev = [], GENESIS_HASH
    for seq in range(start_seq, start_seq + n):
        ev = event(device, seq, prev, key, **kw)
        out.append(ev)
        prev = ev.event_hash()
    return out


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Poll `predicate` every 50 ms until it holds or `timeout` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


ROOT = Path(__file__).resolve().parent.parent


def fresh_venv(folder: Path, extra: str, *also: str) -> Path:
    """A new virtual environment in `folder` with this checkout's `extra` installed (editable) and `also`
    (e.g. pytest); pip's cache keeps it quick after the first run, a cold cache needs minutes."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    out = subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "-e", f"{ROOT}[{extra}]",
                          *also], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return folder
