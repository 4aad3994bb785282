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
from tests.support.chatkit_client import ChatKitClient, open_turn, parse_sse, user_input
from tests.support.outage import outage_settings
from tests.support.scripted_model import GatedModel

UNLIMITED = "100000/minute"
STREAMS = 8


def add_message(thread_id: str) -> dict:
    return {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input("And?")},
    }


async def test_streams_cut_by_an_outage_end_with_the_outage_event(base_settings, tmp_path, capsys):
    pg = await asyncio.to_thread(EmbeddedPostgres.start, tmp_path / "pg")
    try:
        settings = outage_settings(base_settings, pg.url)
        app = create_app(settings)
        async with LiveServer(app) as live, ChatKitClient(live.url) as client:
            await client.login()
            threads = [(await client.new_thread(f"Question {i}?"))[0] for i in range(STREAMS)]
            model = use_model(app, GatedModel())
            turns = [await open_turn(client, add_message(thread_id)) for thread_id in threads]
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
