"""Live check-ins: ingest threads publish stored events, open dashboard streams receive them."""

from __future__ import annotations

import asyncio
import threading

from hub.store.base import StoredEvent


class Broadcaster:
    """Called from ingest threads; fans each stored event out to every open stream's asyncio queue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue, str | None]] = []
        self.opd_of: dict[str, str] = {}

    def subscribe(self, opd: str | None) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=1000)
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), q, opd))
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s[1] is not q]

    def publish(self, item: StoredEvent) -> None:
        ev = item.event
        if ev.employee_id is None or not self._subscribers:  # no open stream: nothing to build
            return
        opd = self.opd_of.get(ev.employee_id)
        data = {"event": ev.key, "nip": ev.employee_id, "opd": opd, "waktu": ev.captured_at.isoformat(),
                "perangkat": ev.device_id, "skor": ev.score, "liveness": ev.liveness.passed, "tanda": list(item.flags)}
        with self._lock:
            subs = list(self._subscribers)
        for loop, q, scope in subs:
            if scope is None or scope == opd:
                loop.call_soon_threadsafe(_put, q, data)


def _put(q: asyncio.Queue, data: dict) -> None:
    if not q.full():
        q.put_nowait(data)
