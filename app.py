"""The FastAPI application: `POST /chatkit`, `POST /session`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import ChatKitReq
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from docsdesk.auth import AuthError, Identity
from docsdesk.context import PageContextError, RequestContext, parse_page_context
from docsdesk.errors import ApiError
from docsdesk.insights.admin import install_admin
from docsdesk.ops.observability import install as install_operations
from docsdesk.ops.ratelimit import RateLimits
from docsdesk.own_docs import own_docs
from docsdesk.settings import Settings, get_settings
from lifespan import Services, lifespan_for

_REQUEST = TypeAdapter(ChatKitReq)
SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}
_STREAM_FAILED = (
    b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'
)


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) anything over `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"request body is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "body_too_large", f"request body is over the {limit}-byte limit")
    return bytes(body)


def parse_request(body: bytes) -> ChatKitReq:
    try:
        return _REQUEST.validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        kind = errors[0]["type"]
        if kind == "json_invalid":
            raise ApiError(400, "invalid_json", f"body is not valid JSON: {errors[0]['msg']}") from None
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            raise ApiError(400, "unknown_request_type", errors[0]["msg"]) from None
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors[:5]
        )
        raise ApiError(400, "invalid_request", detail) from None


def services_of(request: Request) -> Services:
    return request.app.state.services


async def identify(request: Request) -> Identity:
    try:
        return await services_of(request).authenticator.authenticate(request.headers)
    except AuthError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        raise ApiError(exc.status_code, exc.code, exc.message, headers) from None


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", None) or uuid.uuid4().hex


_background: set[asyncio.Task] = set()


async def _stream(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Relay the ChatKit stream. The SDK's generator runs in its own task: when the client
    goes away, that task gets one plain cancellation, so the SDK can still save the partial
    answer (Starlette's cancel scope would cancel every await of that clean-up)."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)

    async def pump() -> None:
        try:
            async for chunk in rest:
                await queue.put(chunk)
        except Exception:  # noqa: BLE001 - whatever broke the stream, end it cleanly
            # The SDK already logged it; the client gets a terminal error event, not a cut stream.
            await queue.put(_STREAM_FAILED)
        await queue.put(None)

    producer = asyncio.create_task(pump())
    _background.add(producer)
    producer.add_done_callback(_background.discard)
    try:
        yield first
        done = False
        while not done:
            # Send whatever is ready as one write: fewer, larger chunks under load.
            parts = [await queue.get()]
            while not queue.empty():
                parts.append(queue.get_nowait())
            if parts[-1] is None:
                done = True
                parts.pop()
            if parts:
                yield b"".join(parts)
    finally:
        if not producer.done():
            producer.cancel()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="docsdesk", lifespan=lifespan_for(settings))
    app.state.rate_limits = RateLimits(settings)
    install_operations(app, settings)  # probes, /metrics, CORS, request ids, access log
    install_admin(app, settings)  # /admin console and /admin/api/*, when DOCSDESK_ADMIN_TOKEN is set

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Unknown routes, wrong methods: the documented error shape, not FastAPI's {"detail"}.
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = {
            404: f"no route {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        return ApiError(exc.status_code, code, message, dict(exc.headers or {})).response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        return ApiError(400, "invalid_request", detail).response()

    @app.post("/session")
    async def session(request: Request) -> Response:
        await request.app.state.rate_limits.check_session(request)
        authenticator = services_of(request).authenticator
        if settings.auth_mode != "anonymous":
            raise ApiError(
                404, "not_found", f"sessions are issued only in anonymous mode (mode: {settings.auth_mode})"
            )
        return JSONResponse(authenticator.issue_session())

    @app.get("/about/{name}")
    async def about(name: str) -> Response:
        """docsdesk's own documentation (what a fresh server indexes and cites)."""
        page = own_docs().get(name)
        if page is None:
            raise ApiError(404, "not_found", f"no document named {name!r}")
        text = await asyncio.to_thread(page.read_text, encoding="utf-8")
        return Response(text, media_type="text/markdown; charset=utf-8")

    @app.post("/chatkit")
    async def chatkit(request: Request) -> Response:
        identity = await identify(request)
        request.state.identity = identity  # for the access log (hashed there)
        body = await read_body(request, settings.max_body_bytes)
        parsed = parse_request(body)
        request.state.chatkit_type = parsed.type
        request.state.thread_id = getattr(parsed.params, "thread_id", None)
        await request.app.state.rate_limits.admit_chatkit(request, identity, parsed.type)
        try:
            page = parse_page_context(parsed.metadata, settings.max_page_context_bytes)
        except PageContextError as exc:
            raise ApiError(400, "invalid_page_context", str(exc)) from None
        ctx = RequestContext(
            user_id=identity.user_id,
            tenant_id=identity.tenant_id,
            request_id=request_id_of(request),
            metadata=parsed.metadata,
            page=page,
        )
        request.state.context = ctx  # the access log reads first_delta_seconds at the end
        server = services_of(request).server
        try:
            result = await server.process_request(parsed, ctx)
            if isinstance(result, StreamingResult):
                stream = aiter(result)
                # Pull the first event before answering 200: a missing or foreign thread,
                # or an invalid request, must be a 4xx, not a broken stream.
                first = await anext(stream, b"")
                return StreamingResponse(
                    _stream(first, stream), media_type="text/event-stream", headers=SSE_HEADERS
                )
            return Response(content=result.json, media_type="application/json")
        except NotFoundError as exc:
            raise ApiError(404, "not_found", str(exc) or "not found") from None
        except ValueError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None

    return app


def __getattr__(name: str):
    # `uvicorn app:app` works too; the app is built on first access with the environment's settings.
    if name == "app":
        return create_app()
    raise AttributeError(name)
