"""The web app for OPD heads, the payroll office, IT staff and employees: one page and its assets, served by
the hub itself (no CDN, nothing fetched from the internet), and the settings the page reads after login."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from hub.api.auth import Principal, current
from hub.api.openapi import document_errors
from hub.api.pages import csp_for, html_page
from hub.api.schemas import CorrectionIn
from hub.api.views import legend
from hub.config import MapSettings
from hub.master import Opd

router = APIRouter()
STATIC = Path(__file__).resolve().parent.parent / "static"
INDEX = STATIC / "app" / "index.html"


def tile_origin(tiles_url: str | None) -> str:
    """The origin the map tiles come from, as a Content-Security-Policy source ('{s}' subdomains: '*.')."""
    if not tiles_url:
        return ""
    parts = urlsplit(tiles_url.replace("{s}.", "*.").replace("{s}", "a"))
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(map_settings: MapSettings) -> str:
    """The hub's page policy (hub/api/pages.py): scripts and styles from the hub only (the page has no inline
    code); images also as blobs (map snapshots) and from the city's tile server."""
    tiles = tile_origin(map_settings.tiles_url)
    return csp_for(INDEX.read_text(encoding="utf-8"), img_sources=" ".join(filter(None, ["blob:", tiles])))


@router.get("/app/", include_in_schema=False, response_class=HTMLResponse)
def app_page(request: Request) -> HTMLResponse:
    m: MapSettings = request.app.state.map_settings
    return html_page(INDEX.read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"},
                     img_sources=" ".join(filter(None, ["blob:", tile_origin(m.tiles_url)])))


@router.get("/app", include_in_schema=False)
def app_slash() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=307)


@router.get("/dashboard", include_in_schema=False)
def dashboard() -> RedirectResponse:
    """The old board's address: the web app's board is its first page."""
    return RedirectResponse("/app/#/hari-ini", status_code=307)


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=307)


def _correction_flow(request: Request) -> dict:
    """How corrections work on this hub: who approves (a name typed in, or a second user through the API)."""
    paths = request.app.openapi()["paths"]  # cached after the first call; included routers nest their routes
    return {"butuh_nama_penyetuju": "approved_by" in CorrectionIn.model_fields,
            "persetujuan_kedua": "/corrections/{correction_id}/approve" in paths}


@router.get("/app/config", summary="What the web app needs after login: the user, OPDs, map, legend, leave types")
def app_config(request: Request, p: Principal = Depends(current)) -> dict:
    state = request.app.state
    opds = {o.code: o.name for o in state.master.list(Opd)}
    name = None
    if p.nip:
        emp = state.master.employee(p.nip)
        name = emp.name if emp else None
    visible = opds if p.reads_all else {k: v for k, v in opds.items() if k == p.opd_code}
    m: MapSettings = state.map_settings
    return {
        "pengguna": {"nama_pengguna": p.username, "peran": p.role, "opd": p.opd_code, "nip": p.nip, "nama": name},
        "opd": [{"kode": k, "nama": v} for k, v in sorted(visible.items())] if p.role != "employee" else [],
        "peta": {"ubin": m.tiles_url, "atribusi": m.attribution, "pusat": list(m.center), "zoom": m.zoom},
        "legenda": legend(state.policy), "jenis_cuti": list(state.policy.leave.percent),
        "zona_waktu": state.policy.timezone, "koreksi": _correction_flow(request),
    }


def install(app: FastAPI) -> None:
    """The page, its assets (/static/app) and the vendored libraries with their licences (/static/vendor)."""
    app.mount("/static/app", StaticFiles(directory=STATIC / "app"), name="app-assets")
    app.mount("/static/vendor", StaticFiles(directory=STATIC / "vendor"), name="vendor-assets")
    app.include_router(document_errors(router))  # /app/config's 401 is in the OpenAPI document too
