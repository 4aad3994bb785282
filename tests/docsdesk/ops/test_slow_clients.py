"""Slow clients are cut off: a client trickling its request headers gets 408 (headers over the
size cap: 431) at the protocol, one trickling its body gets 408 `body_timeout` from the app, and
the connection is closed; 30 of them at once are all gone by the deadline. Normal keep-alive
traffic is unaffected. Both uvicorn HTTP parsers (httptools, h11) are covered."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn

from app import create_app
from docsdesk.ops.slowclients import GuardedH11Protocol, GuardedHttpProtocol, guard_slow_clients

DEADLINE = 1.0


@asynccontextmanager
async def guarded_server(settings, protocol) -> AsyncIterator[int]:
    settings = settings.model_copy(
        update={
            "header_timeout_seconds": DEADLINE,
            "body_timeout_seconds": DEADLINE,
            "http_max_header_bytes": 4096,
            "rate_limit_sessions": "1000/minute",
        }
    )
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    guard_slow_clients(config, settings, protocol)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def trickle(
    port: int, head: bytes, drip: bytes, every: float = 0.2, limit: float = 10.0
) -> tuple[bytes, float]:
    """Send `head`, then `drip` every `every` s until the server answers or closes; return
    (what it answered, seconds it took)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(head)
    answer = b""
    try:
        while time.monotonic() - started < limit:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), every)
            except ConnectionResetError:
                # The server answered and closed while our drip was unread in its buffer: the
                # kernel then resets the connection, and the answer may be lost with it.
                answer += b"<reset>"
                break
            except TimeoutError:
                writer.write(drip)
                try:
                    await writer.drain()
                except ConnectionError:
                    break
                continue
            if not chunk:
                break  # closed by the server
            answer += chunk
    finally:
        writer.close()
    return answer, time.monotonic() - started


def status_and_code(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]["code"]


PROTOCOLS = pytest.mark.parametrize(
    "protocol", [GuardedHttpProtocol, GuardedH11Protocol], ids=["httptools", "h11"]
)


@PROTOCOLS
async def test_thirty_header_tricklers_are_cut_off_at_the_deadline(settings, protocol):
    async with guarded_server(settings, protocol) as port:
        head = b"POST /chatkit HTTP/1.1\r\nHost: x\r\n"
        results = await asyncio.gather(*(trickle(port, head, b"X-Slow: 1\r\n") for _ in range(30)))
    for answer, took in results:
        assert status_and_code(answer) == (408, "request_timeout"), answer[:200]
        assert took < DEADLINE + 2.5, took  # closed at the deadline, not left open


@PROTOCOLS
async def test_headers_over_the_cap_are_431(settings, protocol):
    async with guarded_server(settings, protocol) as port:
        answer, took = await trickle(
            port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Big: " + b"a" * 1000 + b"\r\n", every=0.05
        )
    status = int(answer.split()[1])
    assert status in (400, 431), answer[:200]  # h11 refuses by itself with 400
    assert took < DEADLINE + 1


@PROTOCOLS
async def test_thirty_body_tricklers_get_408(settings, protocol):
    async with (
        guarded_server(settings, protocol) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        token = (await http.post("/session")).json()["token"]
        head = (
            f"POST /chatkit HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        ).encode()
        results = await asyncio.gather(*(trickle(port, head, b" ") for _ in range(30)))
    for answer, took in results:
        if answer != b"<reset>":  # cut off either way; when the answer arrives, it is a 408
            assert status_and_code(answer.removesuffix(b"<reset>")) == (408, "body_timeout"), answer[:200]
        assert DEADLINE - 0.5 < took < DEADLINE + 2.5, took
    assert sum(answer.startswith(b"HTTP/1.1 408") for answer, _ in results) >= 1


@PROTOCOLS
async def test_keep_alive_traffic_is_unaffected(settings, protocol):
    async with (
        guarded_server(settings, protocol) as port,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        for _ in range(3):
            assert (await http.get("/healthz")).status_code == 200
            await asyncio.sleep(DEADLINE * 0.6)  # idle between requests, under keep-alive
        token = (await http.post("/session")).json()["token"]
        response = await http.post(
            "/chatkit",
            headers={"Authorization": f"Bearer {token}"},
            json={"type": "threads.list", "params": {"limit": 1}},
        )
        assert response.status_code == 200


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await asyncio.wait_for(reader.readexactly(length), 5)


@PROTOCOLS
async def test_an_idle_keep_alive_connection_lasts_the_keep_alive_timeout_not_the_header_deadline(
    settings, protocol
):
    # Keep-alive (3 s) longer than the header deadline (1 s): a proxy reusing a connection
    # after 2 s idle must find it open; after the keep-alive timeout the server closes it.
    async with guarded_server(settings.model_copy(update={"http_keep_alive_seconds": 3}), protocol) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = b"GET /healthz HTTP/1.1\r\nHost: docsdesk\r\n\r\n"
        try:
            for _ in range(2):
                writer.write(request)
                assert (await read_response(reader)).startswith(b"HTTP/1.1 200")
                await asyncio.sleep(DEADLINE * 2)  # idle: past the header deadline
            started = time.monotonic()
            assert await asyncio.wait_for(reader.read(1), 5) == b""  # closed by keep-alive
            assert time.monotonic() - started < 2
        finally:
            writer.close()


async def one_write(port: int, head: bytes) -> bytes:
    """Send a whole request head in one write; return what the server answers before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    await writer.drain()
    answer = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 5):
            answer += chunk
            if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                break
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return answer


@PROTOCOLS
@pytest.mark.parametrize(
    "head",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17_000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(3000)) + b"\r\n",
        b"GET /healthz?" + b"q" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["17KB", "100KB", "3000-headers", "long-target"],
)
async def test_a_head_over_the_cap_sent_in_one_write_is_431(settings, protocol, head):
    """Issue 23, item 7: heads of 17-100 KB (and 3,000 small headers) in one write got 200."""
    async with guarded_server(settings, protocol) as port:
        answer = await one_write(port, head)
        assert status_and_code(answer) == (431, "headers_too_large"), answer[:200]
        # A head under the cap, in one write and pipelined with a second one, is served.
        small = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ok: " + b"a" * 3000 + b"\r\n\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(small + small)
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.close()
    assert first.startswith(b"HTTP/1.1 200"), first[:200]
