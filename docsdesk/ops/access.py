"""The request observer: the pure-ASGI middleware that ties logs and metrics to every request
(request id, client address, one access line, the end-of-response callbacks, a JSON 500),
the typed per-request telemetry it reads, and `install`, which adds it all, with the probes
(probes.py) and /metrics (metrics.py), to the app."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docsdesk.core.context import RequestTelemetry
from docsdesk.core.settings import Settings
from docsdesk.ops.metrics import (
    ACTIVE_STREAMS,
    ERRORS,
    REQUEST_BYTES,
    REQUEST_SECONDS,
    REQUESTS,
    STREAM_SECONDS,
    metrics_endpoint,
)
from docsdesk.ops.observability import (
    LINE_FORMATS,
    ClientAddress,
    _request_id,
    hash_user,
    log_salt,
    quiet_client_mistakes,
    quiet_ended_generators,
)
from docsdesk.ops.outage import outage_kind, unavailable
from docsdesk.ops.probes import healthz, readyz

# --- the middleware -----------------------------------------------------------------------

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_ON_END = "docsdesk.on_end"
TELEMETRY = "telemetry"  # its key in the ASGI scope's state (request.state.telemetry)


def telemetry_of(request: Request) -> RequestTelemetry:
    """This request's telemetry (set by RequestObserver; a detached one outside it)."""
    state = request.scope.setdefault("state", {})
    telemetry = state.get(TELEMETRY)
    if telemetry is None:
        telemetry = state[TELEMETRY] = RequestTelemetry(request_id=os.urandom(16).hex())
    return telemetry


def call_at_end(request: Request, callback: Callable[[], Awaitable[None]]) -> None:
    """Run `callback` when the response is over: sent, streamed to the end, failed, or the
    client went away. Needs RequestObserver in the middleware stack."""
    request.scope.setdefault("state", {}).setdefault(_ON_END, []).append(callback)


class RequestObserver:
    """Pure ASGI middleware: request id (honoured from X-Request-ID when sane, echoed back),
    client IP, metrics, one access-log line per request (for a stream: when it ends), the
    end-of-response callbacks, and a JSON 500 for an unhandled error.

    The access line is the hot path: it honours the level of the ``docsdesk.access`` logger
    but is rendered and written to stderr directly, in the configured format, rather than
    through logging's record and handler machinery (several times cheaper per request)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.addresses = ClientAddress(settings.trusted_proxies)
        self.salt = log_salt(settings)
        self.log = logging.getLogger("docsdesk.access")
        self.render = LINE_FORMATS[settings.log_format]
        self.error_log = logging.getLogger("docsdesk.core.errors")
        # (route, type, outcome) -> metric children; labels() on every request costs more.
        self._series: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = declared = None
        forwarded: list[str] = []
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.fullmatch(candidate):
                    request_id = candidate
            elif name == b"content-length" and value.isdigit():
                declared = int(value)
            elif name == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
        request_id = request_id or os.urandom(16).hex()
        state = scope.setdefault("state", {})
        client = scope.get("client")
        telemetry = state[TELEMETRY] = RequestTelemetry(
            request_id=request_id, client_ip=self.addresses.resolve(client[0] if client else "", forwarded)
        )
        token = _request_id.set(request_id)
        exchange = _Exchange(request_id.encode(), send)
        try:
            await self.app(scope, receive, exchange.send)
        except Exception as exc:  # noqa: BLE001 - _failed answers or re-raises it
            await self._failed(exc, scope, receive, exchange, telemetry)
        finally:
            try:
                for callback in state.pop(_ON_END, ()):
                    await callback()
            finally:
                if exchange.stream_started is not None:
                    ACTIVE_STREAMS.dec()
                self._record(scope, telemetry, exchange, started, declared)
                _request_id.reset(token)

    async def _failed(
        self, exc: Exception, scope: Scope, receive: Receive, exchange: _Exchange, telemetry: RequestTelemetry
    ) -> None:
        """An unhandled error: logged; a JSON 500 (or 503 for an outage) if nothing was sent."""
        outage = outage_kind(exc)
        # An outage is logged without its traceback, rate-limited (OutageLogFilter).
        self.error_log.error("unhandled error in %s %s", scope["method"], scope["path"], exc_info=True)
        if exchange.status:
            telemetry.error_code = telemetry.error_code or (
                "database_unavailable" if outage else "internal_error"
            )
            raise exc
        if outage:
            telemetry.error_code = "database_unavailable"
            await unavailable().response()(scope, receive, exchange.send)
            return
        telemetry.error_code = "internal_error"
        body = b'{"error":{"code":"internal_error","message":"internal server error"}}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await exchange.send({"type": "http.response.start", "status": 500, "headers": headers})
        await exchange.send({"type": "http.response.body", "body": body})

    def _record(
        self,
        scope: Scope,
        telemetry: RequestTelemetry,
        exchange: _Exchange,
        started: float,
        declared: int | None,
    ) -> None:
        done = time.perf_counter()
        route_obj = scope.get("route")
        route = getattr(route_obj, "path", None) or (
            "preflight" if scope["method"] == "OPTIONS" else "unmatched"
        )
        kind = telemetry.chatkit_type
        status = exchange.status or 500
        code = telemetry.error_code
        if code:
            outcome = code
        elif exchange.ended is None and exchange.status:
            outcome = "client_disconnected"  # started, never finished, nothing raised
        else:
            outcome = f"{status // 100}xx"
        series = self._series.get((route, kind, outcome))
        if series is None:
            series = self._series[(route, kind, outcome)] = (
                REQUESTS.labels(route, kind, outcome),
                REQUEST_SECONDS.labels(route, kind),
                REQUEST_BYTES.labels(route),
            )
        series[0].inc()
        series[1].observe(done - started)
        if declared is not None:
            series[2].observe(declared)
        if code:
            ERRORS.labels(code).inc()
        if exchange.stream_started is not None:
            STREAM_SECONDS.labels(kind).observe(done - exchange.stream_started)
        self._access_line(scope, telemetry, exchange, route, outcome, done - started, done)

    def _access_line(
        self,
        scope: Scope,
        telemetry: RequestTelemetry,
        exchange: _Exchange,
        route: str,
        outcome: str,
        seconds: float,
        done: float,
    ) -> None:
        status = exchange.status or 500
        if route in _QUIET_ROUTES:
            level = logging.DEBUG
        elif status >= 500 and outcome != "database_unavailable":
            level = logging.ERROR
        elif status >= 500:
            level = logging.WARNING  # an outage: the rate-limited line says why
        else:
            level = logging.INFO
        if not self.log.isEnabledFor(level):
            return
        identity = telemetry.identity
        fields: dict[str, Any] = {
            "request_id": telemetry.request_id,
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "client_ip": telemetry.client_ip,
            "bytes_out": exchange.size,
        }
        if telemetry.chatkit_type:
            fields["chatkit_type"] = telemetry.chatkit_type
        if telemetry.thread_id:
            fields["thread_id"] = telemetry.thread_id
        if identity is not None:
            fields["user"] = hash_user(self.salt, identity.user_id)
            if identity.tenant_id:
                fields["tenant"] = identity.tenant_id
        if telemetry.first_delta_seconds is not None:
            fields["ttft_ms"] = round(telemetry.first_delta_seconds * 1000, 1)
        if exchange.stream_started is not None:
            fields["stream_ms"] = round((done - exchange.stream_started) * 1000, 1)
        if outcome != f"{status // 100}xx":
            fields["outcome"] = outcome
        message = f"{scope['method']} {scope['path']} {status}"
        line = self.render(time.time(), logging.getLevelName(level), self.log.name, message, fields)
        sys.stderr.write(line + "\n")


class _Exchange:
    """What the middleware learns from the response messages as they pass."""

    __slots__ = (
        "downstream",
        "ended",
        "request_id",
        "size",
        "status",
        "stream_started",
    )

    def __init__(self, request_id: bytes, downstream: Send) -> None:
        self.request_id = request_id
        self.downstream = downstream
        self.status = 0
        self.size = 0
        self.stream_started: float | None = None
        self.ended: float | None = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            headers = list(message.get("headers", ()))
            for name, value in headers:
                if name == b"content-type" and value.startswith(b"text/event-stream"):
                    self.stream_started = time.perf_counter()
                    ACTIVE_STREAMS.inc()
            headers.append((b"x-request-id", self.request_id))
            message = {**message, "headers": headers}
        elif kind == "http.response.body":
            body = message.get("body", b"")
            self.size += len(body)
            if not message.get("more_body", False):
                self.ended = time.perf_counter()
        await self.downstream(message)


class ReaderCors(CORSMiddleware):
    """DOCSDESK_CORS_ORIGINS opens the reader routes only: `/admin` and `/admin/api/*` get
    no CORS headers and no preflight answer (the console is same-origin, the CLI is no
    browser), so a reader origin's script can never call the admin API (issue 23, item 12)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/admin" or path.startswith("/admin/"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the probes, /metrics, CORS and the request observer (outermost) to `app`."""
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/metrics", metrics_endpoint(settings), methods=["GET"], include_in_schema=False)
    origins = [o.strip() for o in settings.cors_origins if o.strip()]
    if origins:
        any_origin = "*" in origins
        app.add_middleware(
            ReaderCors,
            # Never a wildcard together with credentials: "*" means any origin, no credentials.
            allow_origins=["*"] if any_origin else origins,
            allow_credentials=not any_origin,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(RequestObserver, settings=settings)
    quiet_client_mistakes()
    quiet_ended_generators()
