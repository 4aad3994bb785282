"""Issue 23, item 11: when the shutdown grace runs out on a turn still streaming, the stream
ends with a retryable error event (not cut off), its question is kept, uvicorn has nothing
left to cancel, and no ERROR line or traceback is logged. A turn that ends within the grace
is untouched (tests/docsdesk/ops/test_ops_processes.py, SIGTERM)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import uvicorn

from app import create_app
from docsdesk.ops.drain import MARGIN_SECONDS, SHUTDOWN_MESSAGE, StreamDrain
from docsdesk.ops.slowclients import GuardedH11Protocol, GuardedHttpProtocol, guard_slow_clients
from tests.support.assistants import use_model
from tests.support.chatkit_client import ChatKitClient, open_turn, parse_sse, user_input
from tests.support.scripted_model import GatedModel

GRACE = 3
UNLIMITED = "100000/minute"


@pytest.mark.parametrize("protocol", [GuardedHttpProtocol, GuardedH11Protocol], ids=["httptools", "h11"])
async def test_streams_still_open_when_the_grace_runs_out_end_with_a_retryable_event(
    settings, protocol, caplog
):
    settings = settings.model_copy(
        update={
            "rate_limit_turns": UNLIMITED,
            "rate_limit_reads": UNLIMITED,
            "max_concurrent_streams_per_user": 0,
        }
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="info", lifespan="on", timeout_graceful_shutdown=GRACE
    )
    guard_slow_clients(config, settings, protocol)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    caplog.set_level(logging.INFO)
    async with ChatKitClient(f"http://127.0.0.1:{port}") as client:
        await client.login()
        use_model(app, GatedModel())  # the answers never come: the turns stay open
        body = {"type": "threads.create", "params": {"input": user_input("Still there?")}}
        turns = [await open_turn(client, body) for _ in range(3)]
        server.should_exit = True  # SIGTERM
        stopping = time.monotonic()
        endings = []
        for stream, chunks, received in turns:
            async for chunk in chunks:
                received += chunk
            await stream.aclose()
            endings.append(parse_sse(received.decode()))
        ended_after = time.monotonic() - stopping
    await asyncio.wait_for(task, GRACE + 5)
    for events in endings:
        assert events[-1] == {
            "type": "error",
            "code": "custom",
            "message": SHUTDOWN_MESSAGE,
            "allow_retry": True,
        }, events[-2:]
        assert [e["type"] for e in events].count("error") == 1
    assert GRACE - MARGIN_SECONDS - 0.5 <= ended_after < GRACE, ended_after
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "Cancel" in m and "running task" in m], messages
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], [
        (r.name, r.getMessage()[:200]) for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info
    ]


async def test_a_drain_stops_open_streams_at_its_deadline_and_forgets_closed_ones():
    drain = StreamDrain()
    stopped: list[str] = []
    unregister_a = drain.register(lambda: stopped.append("a"))
    drain.register(lambda: stopped.append("b"))
    unregister_a()
    assert len(drain) == 1
    drain.begin(None)  # no grace limit: nothing is ever stopped
    assert drain.deadline is None
    drain.begin(MARGIN_SECONDS + 0.2)
    first = drain.deadline
    drain.begin(60)  # every connection reports the shutdown: the first one counts
    assert drain.deadline == first
    drain.register(lambda: stopped.append("late"))  # opened after shutdown began
    await asyncio.sleep(0.1)
    assert stopped == []
    await asyncio.sleep(0.3)
    assert sorted(stopped) == ["b", "late"]
