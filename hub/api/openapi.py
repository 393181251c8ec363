"""Every error status a route can answer is in the OpenAPI document, with the one error shape."""

from __future__ import annotations

from fastapi.routing import APIRoute, APIRouter

PUBLIC = {"/health", "/auth/token"}
_ERROR = {"application/json": {"schema": {  # inline: hub.api.errors.body()
    "type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "field"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "field": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}}}}}
_TEXT = {
    400: "the body is not valid JSON",
    401: "no token, or the token is invalid, expired, logged out or its user changed",
    403: "the role may not do this, or the OPD is not the caller's",
    404: "not found (an employee outside the caller's OPD looks the same as one that does not exist)",
    409: "conflicts with what is stored (already exists, still referred to, month closed, last admin)",
    413: "request body over the limit (25 MB by default)",
    422: "invalid input; `field` names the first offending field",
    503: "the feature is not configured on this hub",
}


def _codes(route: APIRoute) -> set[int]:
    codes = {422} if (route.dependant.query_params or route.dependant.path_params or route.body_field) else set()
    if route.body_field is not None:
        codes |= {400, 413}
    if route.path in PUBLIC:
        return codes
    codes |= {401, 403}
    writes = bool(route.methods & {"POST", "PATCH", "PUT", "DELETE"})
    if "{" in route.path or writes or any(p.name in ("nip", "opd") for p in route.dependant.query_params) \
            or route.path in ("/employees", "/sites"):
        codes.add(404)
    if writes:
        codes.add(409)
    if "/photos" in route.path or "galleries" in route.path or route.path.endswith("/biometrics"):
        codes.add(503)
    return codes


def document_errors(router: APIRouter) -> APIRouter:
    """Add the error responses of each route of `router` (before it is included in the app)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        for code in sorted(_codes(route)):
            route.responses.setdefault(code, {"description": _TEXT[code], "content": _ERROR})
    return router
