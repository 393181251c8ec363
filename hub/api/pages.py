"""HTML pages of the hub (the web app, the API docs) with a Content-Security-Policy made for each page:
its own inline scripts and styles are allowed by hash, nothing else inline, nothing from another origin."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)
DOCS_ASSETS = "/static/docs"


def csp_for(html: str, *, inline_style_attributes: bool = False, img_sources: str = "") -> str:
    """A policy allowing exactly the inline <script> and <style> blocks of `html` (by SHA-256) and the
    page's own origin for scripts, styles, images and API calls; `img_sources`: more image sources (the web
    app's map tiles)."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes[kind].append(f"'sha256-{digest}'")
    scripts = " ".join(["'self'", *hashes["script"]])
    # Swagger UI sets style attributes, which no hash can allow; its inline <style> blocks go with them.
    styles = "'self' 'unsafe-inline'" if inline_style_attributes else " ".join(["'self'", *hashes["style"]])
    images = " ".join(["'self'", "data:", *img_sources.split()])
    return (f"default-src 'none'; script-src {scripts}; style-src {styles}; img-src {images}; "
            "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


def html_page(html: str, *, inline_style_attributes: bool = False, img_sources: str = "",
              headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(html, headers={**(headers or {}), "Content-Security-Policy": csp_for(
        html, inline_style_attributes=inline_style_attributes, img_sources=img_sources)})


def _assets_dir() -> Path:
    """Swagger UI's JavaScript and CSS as shipped by the fastapi-offline package: /docs works offline."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


def install_docs(app: FastAPI) -> None:
    """Serve /docs with Swagger UI from the hub itself (no CDN)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_assets_dir()), name="docs-assets")
    page = get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - docs",
                               swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                               swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                               swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png").body.decode()

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return html_page(page, inline_style_attributes=True)
