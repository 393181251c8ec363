"""Health, Prometheus metrics and tokens."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.api.auth import bearer, current
from hub.api.errors import ApiError

router = APIRouter()


@router.get("/health", summary="Liveness of the API (no authentication)")
def health(request: Request) -> dict:
    return {"status": "ok", "events": request.app.state.store.count()}


def _scraper(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    """Prometheus with the hub's scrape credential (data_dir/metrics.token), or an admin or auditor token."""
    expected = request.app.state.metrics_token
    if creds and expected and hmac.compare_digest(creds.credentials.encode(), expected.encode()):
        return
    p = current(request, creds)
    if p.role not in ("admin", "auditor"):
        raise ApiError(403, "forbidden", f"role {p.role!r} may not do this (needs admin or auditor)")


@router.get("/metrics", summary="Prometheus metrics of ingest (scrape credential, admin or auditor)",
            response_class=Response, dependencies=[Depends(_scraper)])
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
