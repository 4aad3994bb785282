"""A small ChatKit protocol client for tests: JSON requests and SSE streams over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from docsdesk.ops.ratelimit import STREAMING_TYPES

STREAMING = STREAMING_TYPES


def user_input(text: str, quoted_text: str | None = None, attachments: list[str] | None = None) -> dict:
    body: dict[str, Any] = {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }
    if quoted_text is not None:
        body["quoted_text"] = quoted_text
    return body


def parse_sse(raw: str) -> list[dict]:
    events = []
    for block in raw.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    return events


class ChatKitClient:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None, path: str = "/chatkit") -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=60)
        self.headers = dict(headers or {})
        self.path = path  # "/a/NAME/chatkit" for a named assistant

    async def __aenter__(self) -> ChatKitClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.aclose()

    async def login(self) -> ChatKitClient:
        """Anonymous mode: take a session token."""
        response = await self.http.post("/session")
        response.raise_for_status()
        session = response.json()
        self.headers["Authorization"] = f"Bearer {session['token']}"
        self.user_id = session["user_id"]
        return self

    async def raw(self, body: bytes | str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(
            self.path,
            content=body,
            headers={"Content-Type": "application/json", **self.headers, **(headers or {})},
        )

    async def request(
        self, type: str, params: dict | None = None, metadata: dict | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"type": type, "params": params or {}}
        if metadata is not None:
            body["metadata"] = metadata
        return await self.raw(json.dumps(body))

    async def call(self, type: str, params: dict | None = None, metadata: dict | None = None) -> Any:
        """A request that must succeed; JSON for plain requests, the event list for streams."""
        response = await self.request(type, params, metadata)
        assert response.status_code == 200, (type, response.status_code, response.text)
        if type in STREAMING:
            assert response.headers["content-type"].startswith("text/event-stream")
            return parse_sse(response.text)
        return response.json()

    async def new_thread(self, text: str = "How do I add annotations?", metadata: dict | None = None):
        events = await self.call("threads.create", {"input": user_input(text)}, metadata)
        thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
        return thread_id, events


async def open_turn(client: ChatKitClient, body: dict) -> tuple[httpx.Response, Any, bytes]:
    """Start a streaming request and read it until its user message is stored and streamed:
    (the open response, its byte iterator, what was read so far)."""
    request = client.http.build_request(
        "POST",
        client.path,
        content=json.dumps(body),
        headers={"Content-Type": "application/json", **client.headers},
    )
    stream = await client.http.send(request, stream=True)
    assert stream.status_code == 200
    chunks = stream.aiter_bytes()
    received = b""
    while b'"user_message"' not in received:
        received += await anext(chunks)
    return stream, chunks, received


def done_items(events: list[dict], item_type: str | None = None) -> list[dict]:
    return [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and (item_type is None or e["item"]["type"] == item_type)
    ]


@asynccontextmanager
async def signed_in(app) -> AsyncIterator[ChatKitClient]:
    """`app` served on a real uvicorn server, and a client with a reader session; the client
    keeps the app as `client.app` (its services, its state)."""
    from tests.support import LiveServer

    async with LiveServer(app) as live, ChatKitClient(live.url) as client:
        await client.login()
        client.app = app
        yield client
