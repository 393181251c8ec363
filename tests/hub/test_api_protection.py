"""Bounded input and safe pages: the token is checked and the body size limited before a body is read,
security headers on every response, /docs without internet, strict types, documented error codes, and a
scrape credential or a separate listener for Prometheus."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from api_setup import A, api_client, login

from hub.ingest.metrics import IngestMetrics
from hub.service import scrape_token, start_metrics_listener
from testkit.localservices import free_port

LIMIT = 1_000_000


@pytest.fixture
def api(tmp_path):
    with api_client(tmp_path, max_body_bytes=LIMIT, metrics_token="scrape-me-123") as client:
        yield client


def raw_post(app, path: str, headers: dict[str, str], chunks: int, chunk_size: int = 256_000,
             content_length: int | None = None) -> tuple[int, dict, int]:
    """POST through the ASGI app itself; returns (status, error body, body chunks the app pulled)."""
    pulled = 0

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * chunk_size, "more_body": pulled < chunks}

    sent = []

    async def send(message):
        sent.append(message)

    hdrs = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if content_length is not None:
        hdrs.append((b"content-length", str(content_length).encode()))
    else:
        hdrs.append((b"transfer-encoding", b"chunked"))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "path": path,
             "raw_path": path.encode(), "query_string": b"", "headers": hdrs, "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8080), "scheme": "http", "root_path": ""}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body), pulled


def test_a_large_body_without_a_token_is_refused_unread(api):
    status, body, pulled = raw_post(api.app, f"/employees/{A}/photos", {}, chunks=1200, content_length=300_000_000)
    assert (status, body["error"]["code"], pulled) == (401, "unauthenticated", 0)
    forged = {"Authorization": "Bearer eyJ1IjoiYWRtaW4ifQ.AAAA"}
    status, _, pulled = raw_post(api.app, "/employees", forged, chunks=1200, content_length=300_000_000)
    assert (status, pulled) == (401, 0)


def test_a_body_over_the_limit_is_refused_before_or_while_reading(api):
    h = login(api, "admin")
    status, body, pulled = raw_post(api.app, "/employees", h, chunks=100, content_length=30_000_000)
    assert (status, body["error"]["code"], pulled) == (413, "too_large", 0)
    # Without a Content-Length the count stops the upload just past the limit.
    status, body, pulled = raw_post(api.app, "/employees", h, chunks=100, chunk_size=256_000)
    assert status == 413 and pulled == LIMIT // 256_000 + 1
    # Within the limit the request goes through to validation as usual.
    r = api.post("/employees", headers=h, json={"nip": "1", "name": "x" * 500, "opd_code": "DINKES", "tpp_base": 1})
    assert r.status_code == 422


def test_login_needs_no_token_but_is_bounded_too(api):
    status, _, pulled = raw_post(api.app, "/auth/token", {}, chunks=100, content_length=30_000_000)
    assert (status, pulled) == (413, 0)


def test_security_headers_on_pages_and_api(api):
    for path in ("/app/", "/docs", "/health"):
        r = api.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    page = api.get("/app/")  # the web app (also at /dashboard): no inline code at all, assets from the hub
    csp = page.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "script-src 'self';" in csp and "style-src 'self';" in csp


def test_docs_work_without_internet(api):
    page = api.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith("/static/docs/") for u in urls), urls
    for url in urls:
        asset = api.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    js = api.get("/static/docs/swagger-ui-bundle.js").text
    assert re.search(r'"5\.\d+\.\d+"', js)  # Swagger UI 5 reads OpenAPI 3.1, what FastAPI writes
    assert api.get("/openapi.json").json()["openapi"].startswith("3.1")


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/holidays", {"day": 0, "name": "x"}, "day"),
    ("/holidays", {"day": "0", "name": "x"}, "day"),
    ("/holidays", {"day": "2026-02-30", "name": "x"}, "day"),
    ("/sites", {"opd_code": "DINKES", "name": "x", "lat": -3.6, "lon": False}, "lon"),
    ("/sites", {"opd_code": "DINKES", "name": "x", "lat": "-3.6", "lon": 128.1}, "lat"),
    ("/employees", {"nip": "9", "name": "x", "opd_code": "DINKES", "tpp_base": 1, "start": 0.5}, "start"),
    ("/employees", {"nip": "9", "name": "x", "opd_code": "DINKES", "tpp_base": True}, "tpp_base"),
    ("/employees", {"nip": "9", "name": "x", "opd_code": "DINKES", "tpp_base": "5"}, "tpp_base"),
    ("/duty-orders", {"nip": A, "start": "2026-11-24", "end": "2026-11-24", "number": "1", "lat": True}, "lat"),
    ("/corrections", {"nip": A, "at": 1764000000, "reason": "angka bukan waktu"}, "at"),
])
def test_strict_types(api, path, body, field):
    r = api.post(path, headers=login(api, "admin"), json=body)
    assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text


def test_dates_in_queries_are_strict_too(api):
    h = login(api, "admin")
    for start in ("0", "0.5", "1e3"):
        r = api.get("/attendance", headers=h, params={"nip": A, "start": start, "end": "2026-11-24"})
        assert r.status_code == 422, (start, r.text)
    r = api.get("/audit/chain/pi-dinkes-01", headers=h, params={"start": "0"})
    assert r.status_code == 422
    for start in ("0", "1e3"):  # the review list and the city's holiday list too
        assert api.get("/review", headers=h, params={"start": start, "end": "2026-11-24"}).status_code == 422
        r = api.delete(f"/holidays/{start}", headers=h)
        assert r.status_code == 422 and r.json()["error"]["field"] == "day", r.text


def test_error_codes_are_documented(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"401", "403", "404", "409", "422"} <= set(paths["/employees/{nip}"]["patch"]["responses"])
    assert {"401", "403", "413"} <= set(paths["/employees/{nip}/photos"]["post"]["responses"])
    assert {"401", "429"} <= set(paths["/auth/token"]["post"]["responses"])
    error = paths["/employees/{nip}"]["get"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert error["required"] == ["error"]


def test_employees_see_only_their_own_opds_sites(api):
    h = login(api, "admin")
    for opd in ("DINKES", "DISDIK"):
        assert api.post("/sites", headers=h, json={"opd_code": opd, "name": f"Kantor {opd}", "lat": -3.69,
                                                    "lon": 128.18}).status_code == 201
    sites = api.get("/sites", headers=login(api, "ani")).json()
    assert [s["opd_code"] for s in sites] == ["DINKES"]


def test_prometheus_scrapes_with_its_credential(api, tmp_path):
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers={"Authorization": "Bearer salah"}).status_code == 401
    r = api.get("/metrics", headers={"Authorization": "Bearer scrape-me-123"})
    assert r.status_code == 200 and "hadir_" in r.text
    assert api.get("/metrics", headers=login(api, "bpkad")).status_code == 403
    token = scrape_token(tmp_path / "hub")
    assert len(token) >= 40 and scrape_token(tmp_path / "hub") == token
    assert (tmp_path / "hub" / "metrics.token").stat().st_mode & 0o077 == 0


def test_a_separate_metrics_listener_needs_no_token():
    port = free_port()
    server = start_metrics_listener(IngestMetrics(), "127.0.0.1", port)
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert r.status_code == 200 and "hadir_" in r.text
    finally:
        server.shutdown()
        server.server_close()
