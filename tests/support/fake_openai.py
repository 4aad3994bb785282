"""A scriptable stand-in for the OpenAI HTTP API, served in-process on 127.0.0.1.

    async with FakeOpenAI() as fake:
        fake.enqueue("Hello!", Reply(tool_calls=[ToolCall("search_docs", {"query": "x"})]))
        settings = Settings(openai_api_key="sk-test", openai_base_url=fake.base_url, ...)

Speaks `POST /v1/responses` and `POST /v1/chat/completions` (streaming as SSE, or a
single JSON body) from a queue of replies, and `POST /v1/embeddings` with deterministic
unit vectors. Every request body is recorded in `fake.requests`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from secrets import token_hex
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from docsdesk.assistant.stream import (
    function_call_item,
    message_item,
    response_events,
    split_deltas,
    usage_for,
)
from tests.support import wait_started


@dataclass
class ToolCall:
    """A function call the fake model makes."""

    name: str
    arguments: dict[str, Any]
    call_id: str = field(default_factory=lambda: "call_" + token_hex(12))


@dataclass
class Reply:
    """One scripted model reply: text and/or tool calls, or an HTTP error status."""

    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200


@dataclass
class RecordedRequest:
    path: str
    body: dict[str, Any]


def embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text` (same text, same vector)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(byte / 127.5 - 1.0 for byte in digest)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class FakeOpenAI:
    """The fake server; use as an async context manager (it binds a random port)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        # Optional: answer some requests out of band (e.g. concurrent title calls), by body.
        self.side_replies: Callable[[dict[str, Any]], Reply | None] | None = None
        self.requests: list[RecordedRequest] = []
        self.base_url = ""
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/responses", self._responses, methods=["POST"]),
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            ]
        )

    def enqueue(self, *replies: str | Reply) -> None:
        """Queue replies (a string is a text reply), consumed one per model request."""
        self.replies.extend(Reply(text=r) if isinstance(r, str) else r for r in replies)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        """Request bodies received on `path` (e.g. "/v1/chat/completions"), oldest first."""
        return [request.body for request in self.requests if request.path == path]

    async def __aenter__(self) -> FakeOpenAI:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        await wait_started(self._server, self._task)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        await self._task

    # --- endpoints --------------------------------------------------------------------

    async def _take(self, request: Request) -> tuple[dict[str, Any], Reply | Response]:
        body = await request.json()
        self.requests.append(RecordedRequest(request.url.path, body))
        side = self.side_replies(body) if self.side_replies else None
        if side is not None:
            return body, side
        if not self.replies:
            return body, _error(400, "fake OpenAI: no scripted reply left")
        reply = self.replies.popleft()
        if reply.status != 200:
            return body, _error(reply.status, f"fake OpenAI: scripted status {reply.status}")
        return body, reply

    async def _responses(self, request: Request) -> Response:
        body, reply = await self._take(request)
        if isinstance(reply, Response):
            return reply
        output = [message_item(reply.text)] if reply.text else []
        output += [function_call_item(c.name, c.arguments, c.call_id) for c in reply.tool_calls]
        usage = usage_for(json.dumps(body.get("input", "")), output)
        events = list(response_events(output, model=body.get("model", "fake"), usage=usage))
        if not body.get("stream"):
            return JSONResponse(events[-1].response.model_dump(mode="json"))
        lines = (f"event: {event.type}\ndata: {event.model_dump_json()}\n\n" for event in events)
        return StreamingResponse(_aiter(lines), media_type="text/event-stream")

    async def _chat_completions(self, request: Request) -> Response:
        body, reply = await self._take(request)
        if isinstance(reply, Response):
            return reply
        completion_id, model = "chatcmpl-" + token_hex(8), body.get("model", "fake")
        prompt_tokens = len(json.dumps(body.get("messages", []))) // 4
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(reply.text) // 4 + 1,
            "total_tokens": prompt_tokens + len(reply.text) // 4 + 1,
        }
        finish = "tool_calls" if reply.tool_calls else "stop"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if reply.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                    for call in reply.tool_calls
                ]
            return JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage,
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = _chat_chunks(reply, finish, usage if include_usage else None)
        lines = (
            "data: "
            + json.dumps(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    **chunk,
                }
            )
            + "\n\n"
            for chunk in chunks
        )
        return StreamingResponse(_aiter([*lines, "data: [DONE]\n\n"]), media_type="text/event-stream")

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(RecordedRequest(request.url.path, body))
        texts = body.get("input", [])
        texts = [texts] if isinstance(texts, str) else [str(text) for text in texts]
        dimensions = int(body.get("dimensions") or 64)
        data = []
        for index, text in enumerate(texts):
            vector = embedding(text, dimensions)
            encoded: Any = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(text) // 4 + 1 for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


def _chat_chunks(reply: Reply, finish: str, usage: dict[str, int] | None) -> Iterator[dict[str, Any]]:
    """The `choices`/`usage` parts of the chat.completion.chunk stream for one reply."""

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    yield choice({"role": "assistant", "content": ""})
    for piece in split_deltas(reply.text):
        yield choice({"content": piece})
    for index, call in enumerate(reply.tool_calls):
        arguments = json.dumps(call.arguments)
        half = len(arguments) // 2
        yield choice(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        for part in (arguments[:half], arguments[half:]):
            yield choice({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
    yield choice({}, finish)
    if usage is not None:
        yield {"choices": [], "usage": usage}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "code": None}},
        status_code=status,
    )


async def _aiter(lines: Iterator[str] | list[str]) -> AsyncIterator[str]:
    for line in lines:
        yield line
