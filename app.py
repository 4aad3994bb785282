"""The FastAPI application: `POST /chatkit`, `POST /session`, attachment uploads and previews."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import Attachment, ChatKitReq
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from docsdesk.core.context import PageContextError, RequestContext, parse_page_context
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings, get_settings
from docsdesk.http.auth import AuthError, Identity
from docsdesk.http.embed import load_embed_script
from docsdesk.http.input_limits import check_fields, check_no_nul
from docsdesk.http.multipart import file_field
from docsdesk.http.origins import install as install_origin_guard
from docsdesk.insights.admin import install_admin
from docsdesk.ops.observability import install as install_operations
from docsdesk.ops.ratelimit import RateLimits
from docsdesk.own_docs import own_docs
from lifespan import Services, lifespan_for

_REQUEST = TypeAdapter(ChatKitReq)
SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}
_STREAM_FAILED = b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'


async def read_body(request: Request, limit: int, deadline_seconds: float | None = None) -> bytes:
    """The whole body, refusing (413) anything over `limit` bytes without reading it all, and
    (408) a body still incomplete `deadline_seconds` after its headers: a client trickling its
    body does not hold a connection and a worker's attention for ever."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"request body is over the {limit}-byte limit")
    body = bytearray()
    try:
        async with asyncio.timeout(deadline_seconds):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise ApiError(413, "body_too_large", f"request body is over the {limit}-byte limit")
    except TimeoutError:
        raise ApiError(
            408,
            "body_timeout",
            f"the request body did not arrive within {deadline_seconds:g} s",
            {"Connection": "close"},
        ) from None
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


def context_of(request: Request, identity: Identity, **fields) -> RequestContext:
    return RequestContext(
        user_id=identity.user_id,
        tenant_id=identity.tenant_id,
        request_id=request_id_of(request),
        base_url=str(request.base_url).rstrip("/"),
        **fields,
    )


def attachment_response(attachment: Attachment) -> Response:
    body = attachment.model_dump_json(exclude_none=True, context={"exclude_metadata": True})
    return Response(body, media_type="application/json")


def content_disposition(name: str) -> str:
    """`inline` with the file name, ASCII fallback and RFC 5987 UTF-8 form."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


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
    # The interactive API docs load Swagger UI and ReDoc from a CDN: off unless DOCSDESK_API_DOCS=1.
    api_docs = {} if settings.api_docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="docsdesk", lifespan=lifespan_for(settings), **api_docs)
    app.state.rate_limits = RateLimits(settings)
    embed = load_embed_script()
    install_operations(app, settings)  # probes, /metrics, CORS, request ids, access log
    install_origin_guard(app, settings)  # reader API: origins not allowed get 403 before any route
    install_admin(app, settings)  # /admin console and /admin/api/*, when DOCSDESK_ADMIN_TOKEN is set

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return ApiError(404, "not_found", str(exc) or "not found").response()

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
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return ApiError(400, "invalid_request", detail).response()

    @app.post("/session")
    async def session(request: Request) -> Response:
        """A new anonymous session; with `Authorization: Bearer <current token>`, the same
        reader's session renewed (see docs/embedding.md)."""
        authenticator = services_of(request).authenticator
        if settings.auth_mode != "anonymous":
            raise ApiError(
                404, "not_found", f"sessions are issued only in anonymous mode (mode: {settings.auth_mode})"
            )
        if "authorization" not in request.headers:
            await request.app.state.rate_limits.check_session(request)
            return JSONResponse(authenticator.issue_session(), headers={"Cache-Control": "no-store"})
        try:
            renewed = authenticator.renew_session(request.headers)
        except AuthError as exc:
            raise ApiError(exc.status_code, exc.code, exc.message, {"WWW-Authenticate": "Bearer"}) from None
        await request.app.state.rate_limits.check_renewal(Identity(user_id=renewed["user_id"]))
        return JSONResponse(renewed, headers={"Cache-Control": "no-store"})

    @app.api_route("/embed.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def embed_script(request: Request) -> Response:
        """The browser script that connects ChatKit to docsdesk (docsdesk/static/embed.js)."""
        return embed.response(request)

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
        # Authenticate, then count the request against its user's limit, then read and
        # parse: a request that fails parsing still counts.
        identity = await identify(request)
        request.state.identity = identity  # for the access log (hashed there)
        await request.app.state.rate_limits.admit_request(identity)
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
        check_no_nul(body)
        parsed = parse_request(body)
        request.state.chatkit_type = parsed.type
        request.state.thread_id = getattr(parsed.params, "thread_id", None)
        check_fields(parsed, settings.max_message_chars)
        try:
            page = parse_page_context(parsed.metadata, settings.max_page_context_bytes)
        except PageContextError as exc:
            raise ApiError(400, "invalid_page_context", str(exc)) from None
        await request.app.state.rate_limits.admit_chatkit(request, identity, parsed.type)
        ctx = context_of(request, identity, metadata=parsed.metadata, page=page)
        request.state.context = ctx  # the access log reads first_delta_seconds at the end
        server = services_of(request).server
        try:
            result = await server.process_request(parsed, ctx, body)
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

    # --- attachments: direct upload, two-phase upload, previews --------------------------

    @app.post("/attachments")
    async def upload_direct(request: Request) -> Response:
        """Direct strategy: the reader's bearer token, multipart `file` -> the attachment JSON."""
        identity = await identify(request)
        request.state.identity = identity
        await request.app.state.rate_limits.check_upload(identity)
        files = services_of(request).attachments
        declared = request.headers.get("content-length", "")
        attachment = await files.direct_upload(
            file_field(request), int(declared) if declared.isdigit() else None, context_of(request, identity)
        )
        return attachment_response(attachment)

    @app.post("/attachments/{attachment_id}/upload")
    async def upload_signed(
        attachment_id: str, request: Request, expires: str | None = None, signature: str | None = None
    ) -> Response:
        """Two-phase strategy: the bytes for an attachment created by attachments.create,
        authorised by the signed URL alone (single-use, short-lived)."""
        files = services_of(request).attachments
        attachment = await files.upload(
            attachment_id, expires, signature, file_field(request), str(request.base_url).rstrip("/")
        )
        return attachment_response(attachment)

    @app.get("/attachments/{attachment_id}/preview")
    async def preview(
        attachment_id: str, request: Request, expires: str | None = None, signature: str | None = None
    ) -> Response:
        """An image attachment through its signed, expiring preview URL: served with its
        checked raster type only, never sniffed, never as a document."""
        files = services_of(request).attachments
        record = await files.preview(attachment_id, expires, signature)
        attachment = await files.store.load_attachment(
            attachment_id, RequestContext(user_id=record.user_id, tenant_id=record.tenant_id)
        )
        max_age = max(0, min(int(expires or 0) - int(time.time()), 3600))
        headers = {
            "Content-Length": str(record.size),
            "Content-Disposition": content_disposition(attachment.name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Cache-Control": f"private, max-age={max_age}",
            "Referrer-Policy": "no-referrer",
        }
        return StreamingResponse(files.read(record), media_type=record.kind.mime, headers=headers)

    return app


def __getattr__(name: str):
    # `uvicorn app:app` works too; the app is built on first access with the environment's settings.
    if name == "app":
        return create_app()
    raise AttributeError(name)
