"""Every error answer in one shape, ``{"error": {"code", "message"}}``, and reported to the
request's telemetry by the handler that writes it (the access line and the error metric)."""

from __future__ import annotations

from chatkit.store import NotFoundError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from docsdesk.core.errors import ApiError
from docsdesk.ops.access import telemetry_of


def error_response(request: Request, error: ApiError) -> Response:
    telemetry_of(request).error_code = error.code
    return error.response()


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


async def not_found(request: Request, exc: Exception) -> Response:
    return error_response(request, ApiError(404, "not_found", str(exc) or "not found"))


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes, wrong methods: the documented error shape, not FastAPI's {"detail"}."""
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = {
        404: f"no route {request.url.path}",
        405: f"{request.method} is not allowed on {request.url.path}",
    }.get(exc.status_code, str(exc.detail))
    return error_response(request, ApiError(exc.status_code, code, message, dict(exc.headers or {})))


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
    return error_response(request, ApiError(400, "invalid_request", detail))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(NotFoundError, not_found)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
