"""One JSON shape for every error: {"error": {"code", "message", "field"}}; a refused request body also lists
every field's error (`errors`: field, pydantic type, message, limits) so a form can show each next to its field."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None):
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers


def body(code: str, message: str, field: str | None = None, errors: list[dict] | None = None) -> dict:
    out = {"code": code, "message": message, "field": field}
    if errors is not None:
        out["errors"] = errors
    return {"error": out}


def _field(loc: tuple) -> str | None:
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path")) or None


def field_errors(errors: list[dict]) -> list[dict]:
    """Each validation error as {field, type, message, limits}: the type and the limits (max_length, ge ...)
    let a client word the error in its own language; only plain values are kept (no exception objects)."""
    return [{"field": _field(e.get("loc", ())), "type": e.get("type", "invalid"), "message": str(e.get("msg", "")),
             "limits": {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, int | float | str)}}
            for e in errors]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message, exc.field), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = _field(first.get("loc", ()))
        return JSONResponse(body("invalid", f"{field or 'request'}: {first.get('msg')}", field,
                                 field_errors(exc.errors())), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed"}
        return JSONResponse(body(codes.get(exc.status_code, "error"), str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
