"""Server-sent events: live check-ins for dashboards, as the hub stores them.

A stream lives only as long as its token: it is checked again every few seconds (expiry, user removed
or disabled, password or role changed, logout) and the stream ends when the token no longer holds.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from hub.api.auth import Principal, current, scope_opd, still_valid
from hub.api.errors import ApiError
from hub.live import Broadcaster

router = APIRouter()
KEEP_ALIVE_S = 15.0


@router.get("/stream/checkins", summary="Live check-ins (text/event-stream); ends when the token does",
            response_class=StreamingResponse)
async def checkins(request: Request, opd: str | None = None, p: Principal = Depends(current)) -> StreamingResponse:
    if p.role == "employee":
        raise ApiError(403, "forbidden", "the live stream is for OPD dashboards")
    scope = scope_opd(p, opd)
    hub_broadcaster: Broadcaster = request.app.state.broadcaster
    hub_broadcaster.opd_of = {e.nip: e.opd_code for e in request.app.state.master.employees()}
    queue = hub_broadcaster.subscribe(scope)
    recheck_s = min(KEEP_ALIVE_S, request.app.state.stream_recheck_s)
    master = request.app.state.master

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b": connected\n\n"
            last_sent = last_check = time.monotonic()
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), timeout=recheck_s)
                except asyncio.TimeoutError:
                    data = None
                if time.monotonic() - last_check >= recheck_s:  # at most one user lookup per interval
                    if await run_in_threadpool(still_valid, master, p) is None:
                        yield b"event: end\n\n"  # no data: the dashboard shows nothing, then logs in again
                        return
                    last_check = time.monotonic()
                if data is not None:
                    yield f"event: checkin\ndata: {json.dumps(data)}\n\n".encode()
                    last_sent = time.monotonic()
                elif time.monotonic() - last_sent >= KEEP_ALIVE_S:
                    yield b": keep-alive\n\n"
                    last_sent = time.monotonic()
        finally:
            hub_broadcaster.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream")
