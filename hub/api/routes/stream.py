"""Server-sent events: live check-ins for dashboards, as the hub stores them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from hub.api.auth import Principal, current, scope_opd
from hub.api.errors import ApiError
from hub.live import Broadcaster

router = APIRouter()


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
