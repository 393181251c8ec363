"""What every request meets before the API reads it (pure ASGI, ahead of FastAPI):

1. a request with a body to a path that needs a token must carry a valid one, checked before the body
   is read (a large upload without a token costs the hub nothing);
2. a body larger than the limit is refused (413) from its Content-Length, or, without one, as soon as
   the bytes received pass the limit;
3. every response carries nosniff, a Referrer-Policy, X-Frame-Options and (unless the page brought its
   own) a Content-Security-Policy that allows nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.errors import ApiError, body

SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY")]
DEFAULT_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
PUBLIC_WITH_BODY = ("/auth/token",)


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, authenticate: Callable[[str], object]):
        """`authenticate(token)` raises ApiError (401) unless the bearer token is valid; it may block."""
        self.app, self.max_body, self.authenticate = app, max_body_bytes, authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        send = self._with_security_headers(send)
        length = headers.get(b"content-length")
        has_body = (length not in (None, b"0")) or b"transfer-encoding" in headers
        if has_body and scope["path"] not in PUBLIC_WITH_BODY:
            auth = headers.get(b"authorization", b"").decode("latin-1")
            if not auth.lower().startswith("bearer "):
                await self._refuse(send, 401, "unauthenticated", "send 'Authorization: Bearer <token>' "
                                                                 "(POST /auth/token)")
                return
            try:
                await run_in_threadpool(self.authenticate, auth[7:].strip())
            except ApiError as exc:
                await self._refuse(send, exc.status, exc.code, exc.message)
                return
        if length is not None:
            try:
                too_large = int(length) > self.max_body
            except ValueError:
                await self._refuse(send, 400, "invalid", "Content-Length is not a number")
                return
            if too_large:
                await self._refuse(send, 413, "too_large", self._limit_text())
                return
        started = refused = False
        received = 0

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    # Answer now and tell the app the client left: it stops reading, and whatever it
                    # tries to answer after that is dropped.
                    refused = True
                    if not started:
                        await self._refuse(send, 413, "too_large", self._limit_text())
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, tracked_send)

    def _limit_text(self) -> str:
        return f"request body larger than {self.max_body // 1_000_000} MB: send photos in several requests"

    @staticmethod
    def _with_security_headers(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if DEFAULT_CSP[0] not in names:
                    headers.append(DEFAULT_CSP)
                message = {**message, "headers": headers}
            await send(message)

        return wrapped

    @staticmethod
    async def _refuse(send: Send, status: int, code: str, message: str) -> None:
        payload = json.dumps(body(code, message)).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
