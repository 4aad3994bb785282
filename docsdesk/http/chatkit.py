"""`POST /chatkit` (the default assistant) and `POST /a/{name}/chatkit` (a named one): the
ChatKit protocol endpoint.

Authenticate, count the request against its user's limit, then read and parse it once (a
request that fails parsing still counts); check its fields and page context, take a stream
slot for a turn, and hand the parsed request to the ChatKit server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

from chatkit.errors import ErrorCode
from chatkit.server import StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import ErrorEvent
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Send

from docsdesk.assistant.definition import Assistant
from docsdesk.core.context import Identity, PageContextError, RequestTelemetry, parse_page_context
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.http.chatkit_request import parse_request
from docsdesk.http.deps import (
    CurrentIdentity,
    Limits,
    Services,
    ServicesDep,
    SettingsDep,
    Telemetry,
    request_context,
)
from docsdesk.http.input_limits import check_fields, check_no_nul
from docsdesk.ops.drain import SHUTDOWN_MESSAGE, StreamDrain, drain_of
from docsdesk.ops.ratelimit import RateLimits

router = APIRouter()

SSE_HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}
STREAM_FAILED = b'data: {"type":"error","code":"stream.error","allow_retry":true}\n\n'
SERVER_STOPPING = (
    b"data: " + ErrorEvent(message=SHUTDOWN_MESSAGE, allow_retry=True).model_dump_json().encode() + b"\n\n"
)


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


@router.post("/chatkit")
async def chatkit(
    request: Request,
    identity: CurrentIdentity,
    services: ServicesDep,
    settings: SettingsDep,
    limits: Limits,
    telemetry: Telemetry,
) -> Response:
    """The default assistant (the config's `default_assistant`; `default` without a file)."""
    assistant = services.assistants.get(services.assistants.default)
    return await serve_chatkit(request, identity, services, settings, limits, telemetry, assistant)


@router.post("/a/{name}/chatkit")
async def assistant_chatkit(
    name: str,
    request: Request,
    identity: CurrentIdentity,
    services: ServicesDep,
    settings: SettingsDep,
    limits: Limits,
    telemetry: Telemetry,
) -> Response:
    """A named assistant (docsdesk.toml's `[assistants.NAME]`): the same protocol; its threads
    are its own. An unknown name, or one the caller's token does not allow, is 404."""
    assistant = services.assistants.get(name)
    return await serve_chatkit(request, identity, services, settings, limits, telemetry, assistant)


async def serve_chatkit(
    request: Request,
    identity: Identity,
    services: Services,
    settings: Settings,
    limits: RateLimits,
    telemetry: RequestTelemetry,
    assistant: Assistant,
) -> Response:
    check_allowed(identity, assistant.name)
    await limits.admit_request(identity)
    body = await read_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
    check_no_nul(body)
    parsed = parse_request(body)
    telemetry.chatkit_type = parsed.type
    telemetry.thread_id = getattr(parsed.params, "thread_id", None)
    check_fields(parsed, settings.max_message_chars)
    try:
        page = parse_page_context(parsed.metadata, settings.max_page_context_bytes)
    except PageContextError as exc:
        raise ApiError(400, "invalid_page_context", str(exc)) from None
    await limits.admit_chatkit(request, identity, parsed.type, assistant.name, assistant.rate_limit_turns)
    context = request_context(
        request, identity, telemetry, metadata=parsed.metadata, page=page, assistant=assistant.name
    )
    try:
        result = await services.server.process_request(parsed, context, body)
        if isinstance(result, StreamingResult):
            stream = aiter(result)
            # Pull the first event before answering 200: a missing or foreign thread,
            # or an invalid request, must be a 4xx, not a broken stream.
            first = await anext(stream, b"")
            drain = drain_of(request.scope.get("state"))
            return EventStream(
                relay(first, stream, telemetry, drain), media_type="text/event-stream", headers=SSE_HEADERS
            )
        return Response(content=result.json, media_type="application/json")
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc) or "not found") from None
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


def check_allowed(identity: Identity, assistant: str) -> None:
    """A token that lists the assistants its user may use (the JWT claim
    DOCSDESK_JWT_ASSISTANTS_CLAIM) makes every other one 404, as if it did not exist."""
    if identity.assistants is not None and assistant not in identity.assistants:
        raise ApiError(404, "not_found", f"no assistant named {assistant!r}")


class LastBurst(bytes):
    """The stream's last burst: the body ends with it (see EventStream)."""


class EventStream(StreamingResponse):
    """Starlette's StreamingResponse, except that a `LastBurst` chunk is sent as the end of the
    body: one socket write for the last events and the chunked-encoding terminator, not two."""

    async def stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        ended = False
        async for chunk in self.body_iterator:
            if not ended:
                ended = isinstance(chunk, LastBurst)
                body = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
                await send({"type": "http.response.body", "body": body, "more_body": not ended})
        if not ended:
            await send({"type": "http.response.body", "body": b"", "more_body": False})


_background: set[asyncio.Task] = set()
GATHER_LOOP_TURNS = 16  # event-loop turns a relay lets pass before a write, to gather a burst


async def relay(
    first: bytes, rest: AsyncIterator[bytes], telemetry: RequestTelemetry, drain: StreamDrain | None = None
) -> AsyncIterator[bytes]:
    """Relay the ChatKit stream. The SDK's generator runs in its own task: when the client
    goes away, that task gets one plain cancellation, so the SDK can still save the partial
    answer (Starlette's cancel scope would cancel every await of that clean-up). When the
    server stops (`drain`), a stream still open near the end of the grace is stopped the same
    way and ends with a retryable error event."""
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)
    stopped = False

    async def pump() -> None:
        try:
            async for chunk in rest:
                await queue.put(chunk)
        except asyncio.CancelledError:
            if not stopped:
                raise
            telemetry.error_code = telemetry.error_code or "custom"
            await queue.put(SERVER_STOPPING)
        except Exception:  # noqa: BLE001 - whatever broke the stream, end it cleanly
            # The SDK already logged it; the client gets a terminal error event, not a cut stream.
            telemetry.error_code = telemetry.error_code or ErrorCode.STREAM_ERROR.value
            await queue.put(STREAM_FAILED)
        else:
            if telemetry.turn_open and telemetry.error_code is None:
                # The turn neither finished nor failed by itself: the SDK stopped it (its own
                # store write failed) and ended the stream with its stream.error event.
                telemetry.error_code = ErrorCode.STREAM_ERROR.value
        await queue.put(None)

    producer = asyncio.create_task(pump())
    _background.add(producer)
    producer.add_done_callback(_background.discard)

    def stop() -> None:
        nonlocal stopped
        if not producer.done():
            stopped = True
            producer.cancel()

    unregister = drain.register(stop) if drain is not None else None
    try:
        yield first
        async for burst in bursts(queue):
            yield burst
    finally:
        if unregister is not None:
            unregister()
        if not producer.done():
            producer.cancel()


async def bursts(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    """The queued chunks, up to the None that ends them, each burst as one write; the one
    that ends with the None as a `LastBurst`.

    Send whatever is ready as one write: fewer, larger chunks. Events come in bursts (a text
    delta, its annotation, the finished item) a few event-loop turns apart: letting the loop
    run GATHER_LOOP_TURNS turns first gathers a burst into one socket write (one send here, one
    read in the client) without waiting on any clock."""
    done = False
    while not done:
        parts = [await queue.get()]
        for _ in range(GATHER_LOOP_TURNS):
            await asyncio.sleep(0)
        while not queue.empty():
            parts.append(queue.get_nowait())
        if parts[-1] is None:
            done = True
            parts.pop()
        if parts:
            burst = b"".join(cast("list[bytes]", parts))  # the None sentinel comes last, popped above
            yield LastBurst(burst) if done else burst
