"""Health, Prometheus metrics and tokens."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.api.auth import Principal, require

router = APIRouter()


@router.get("/health", summary="Liveness of the API (no authentication)")
def health(request: Request) -> dict:
    return {"status": "ok", "events": request.app.state.store.count()}


DASHBOARD = Path(__file__).resolve().parent.parent / "static" / "dashboard.html"


@router.get("/dashboard", summary="The OPD board in a browser (Bahasa Indonesia); it logs in through the API",
            response_class=HTMLResponse, include_in_schema=False)
def dashboard() -> HTMLResponse:
    return HTMLResponse(DASHBOARD.read_text(encoding="utf-8"))


@router.get("/metrics", summary="Prometheus metrics of ingest", response_class=Response)
def metrics(request: Request, _: Principal = Depends(require("admin", "auditor"))) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
