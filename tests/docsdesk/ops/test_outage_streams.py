"""Issue 23, item 11: streams cut by a database outage end with the outage's retryable error
event (not a generic one), and the log stays at one line per failure kind: no "Task was
destroyed but it is pending!", no traceback."""

from __future__ import annotations

import asyncio
import gc
import json

from app import create_app
from docsdesk.core.database import EmbeddedPostgres
from docsdesk.ops.outage import STREAM_MESSAGE
from tests.support import LiveServer
from tests.support.assistants import use_model
from tests.support.chatkit_client import ChatKitClient, parse_sse, user_input
from tests.support.scripted_model import GatedModel

UNLIMITED = "100000/minute"
STREAMS = 8


async def open_turn(client: ChatKitClient, thread_id: str):
    body = json.dumps(
        {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("And?")}}
    )
    request = client.http.build_request(
        "POST", "/chatkit", content=body, headers={"Content-Type": "application/json", **client.headers}
    )
    stream = await client.http.send(request, stream=True)
    assert stream.status_code == 200
    chunks = stream.aiter_bytes()
    received = b""
    while b'"user_message"' not in received:
        received += await anext(chunks)
    return stream, chunks, received


async def test_streams_cut_by_an_outage_end_with_the_outage_event(base_settings, tmp_path, capsys):
    pg = await asyncio.to_thread(EmbeddedPostgres.start, tmp_path / "pg")
    try:
        settings = base_settings.model_copy(
            update={
                "database_url": pg.url,
                "log_format": "json",
                "db_pool_timeout_seconds": 2.0,
                "db_connect_timeout_seconds": 2.0,
                "rate_limit_turns": UNLIMITED,
                "rate_limit_reads": UNLIMITED,
                "rate_limit_sessions": UNLIMITED,
                "max_concurrent_streams_per_user": 0,
            }
        )
        app = create_app(settings)
        async with LiveServer(app) as live, ChatKitClient(live.url) as client:
            await client.login()
            threads = [(await client.new_thread(f"Question {i}?"))[0] for i in range(STREAMS)]
            model = use_model(app, GatedModel())
            turns = [await open_turn(client, thread_id) for thread_id in threads]
            await asyncio.to_thread(pg.stop)  # the database goes away under every open turn
            model.gate.set()
            endings = []
            for stream, chunks, received in turns:
                async for chunk in chunks:
                    received += chunk
                await stream.aclose()
                endings.append(parse_sse(received.decode())[-1])
            for _ in range(3):
                gc.collect()
                await asyncio.sleep(0.2)
    finally:
        await asyncio.to_thread(pg.stop)
    for event in endings:
        assert event["type"] == "error" and event["allow_retry"] is True, event
        assert event.get("message") == STREAM_MESSAGE, event
    err = capsys.readouterr().err
    assert "Task was destroyed" not in err
    assert "Traceback" not in err and "never retrieved" not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    outage = [line["message"] for line in lines if "database unavailable (" in line["message"]]
    kinds = {message.split("database unavailable (")[1].split(")")[0] for message in outage}
    assert outage and len(outage) == len(kinds), outage  # one line per kind in the interval
    assert not [line for line in lines if line["level"] in ("error", "critical")], lines[-5:]
