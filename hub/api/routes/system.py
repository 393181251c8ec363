"""Health, Prometheus metrics and tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.api.auth import Principal, issue_token, require
from hub.api.errors import ApiError
from hub.api.schemas import TokenIn, TokenOut
from hub.master import check_password

router = APIRouter()


@router.get("/health", summary="Liveness of the API (no authentication)")
def health(request: Request) -> dict:
    return {"status": "ok", "events": request.app.state.store.count()}


@router.get("/metrics", summary="Prometheus metrics of ingest", response_class=Response)
def metrics(request: Request, _: Principal = Depends(require("admin", "auditor"))) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/auth/token", response_model=TokenOut, summary="Exchange a username and password for a bearer token")
def token(body: TokenIn, request: Request) -> TokenOut:
    user = request.app.state.master.user(body.username)
    if user is None or not check_password(body.password, user.password_hash):
        raise ApiError(401, "unauthenticated", "wrong username or password")
    p = Principal(user.username, user.role, user.opd_code, user.nip)
    from hub.api.auth import TOKEN_TTL_S

    return TokenOut(access_token=issue_token(request.app.state.secret, p), expires_in=TOKEN_TTL_S)
