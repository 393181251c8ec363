"""Server-sent events: live check-ins for dashboards, as the hub stores them."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from hub.api.auth import Principal, current, scope_opd
from hub.api.errors import ApiError
from hub.store.base import StoredEvent

router = APIRouter()


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
        if ev.employee_id is None:
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


@router.get("/stream/checkins", summary="Live check-ins (text/event-stream)", response_class=StreamingResponse)
async def checkins(request: Request, opd: str | None = None, p: Principal = Depends(current)) -> StreamingResponse:
    if p.role == "employee":
        raise ApiError(403, "forbidden", "the live stream is for OPD dashboards")
    scope = scope_opd(p, opd)
    hub_broadcaster: Broadcaster = request.app.state.broadcaster
    hub_broadcaster.opd_of = {e.nip: e.opd_code for e in request.app.state.master.employees()}
    queue = hub_broadcaster.subscribe(scope)

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), timeout=15)
                except asyncio.TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield f"event: checkin\ndata: {json.dumps(data)}\n\n".encode()
        finally:
            hub_broadcaster.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream")
