"""POST /chatkit: the access line and the error metric get the thread id and the error code
from the code that knows them (the request's telemetry), for a stream as for a JSON error."""

from __future__ import annotations

from tests.docsdesk.ops.test_ops_http import Scrape, access_lines, assert_error, served
from tests.support.assistants import use_model
from tests.support.chatkit_client import done_items
from tests.support.scripted_model import GatedModel


async def test_a_turn_past_its_deadline_reports_its_code_and_thread(settings, capsys):
    async with served(settings, log_format="json") as (client, app):
        use_model(app, GatedModel(), deadline_seconds=0.3)  # never answers in time
        scrape = await Scrape(client.http).start()
        thread_id, events = await client.new_thread("Will you answer?")
        await scrape.end()
    assert events[-1]["type"] == "error" and events[-1]["code"] == "custom" and events[-1]["allow_retry"]
    assert "too long" in events[-1]["message"] and not done_items(events, "assistant_message")
    assert scrape.grew("docsdesk_errors_total", code="custom") == 1
    [line] = [
        line for line in access_lines(capsys.readouterr().err) if line.get("chatkit_type") == "threads.create"
    ]
    assert line["status"] == 200 and line["outcome"] == "custom" and line["thread_id"] == thread_id


async def test_json_errors_report_their_code(settings, capsys):
    async with served(settings, log_format="json") as (client, _):
        response = await client.request("threads.get_by_id", {"thread_id": "thr_missing"})
        bad = await client.raw("{")
    assert_error(response, 404, "not_found")
    assert_error(bad, 400, "invalid_json")
    lines = [line for line in access_lines(capsys.readouterr().err) if line["path"] == "/chatkit"]
    outcomes = {line.get("chatkit_type", ""): line["outcome"] for line in lines}
    assert outcomes["threads.get_by_id"] == "not_found" and outcomes[""] == "invalid_json"
    assert [line["thread_id"] for line in lines if line.get("chatkit_type") == "threads.get_by_id"] == [
        "thr_missing"
    ]


async def test_the_relay_sends_a_burst_of_events_as_one_write_and_waits_on_no_clock():
    import asyncio

    from docsdesk.core.context import RequestTelemetry
    from docsdesk.http.chatkit import GATHER_LOOP_TURNS, LastBurst, relay

    async def events():
        for burst in range(3):
            for n in range(4):  # a burst: each event a couple of event-loop turns after the last
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                yield f"data: {burst}.{n}\n\n".encode()
            await asyncio.sleep(0.05)  # a real wait (the model, the database) ends a burst

    assert GATHER_LOOP_TURNS >= 8
    writes = [chunk async for chunk in relay(b"first\n\n", events(), RequestTelemetry(request_id="r"))]
    assert b"".join(writes) == b"first\n\n" + b"".join(
        f"data: {b}.{n}\n\n".encode() for b in range(3) for n in range(4)
    )
    assert writes[0] == b"first\n\n" and len(writes) == 1 + 3  # the first event, then one write a burst
    assert not any(isinstance(w, LastBurst) for w in writes)  # the end came alone, after a wait

    async def ends_with_its_burst():
        for n in range(3):
            await asyncio.sleep(0)
            yield f"data: {n}\n\n".encode()

    writes = [
        chunk async for chunk in relay(b"first\n\n", ends_with_its_burst(), RequestTelemetry(request_id="r"))
    ]
    assert writes == [b"first\n\n", b"data: 0\n\ndata: 1\n\ndata: 2\n\n"] and isinstance(
        writes[-1], LastBurst
    )


async def test_the_last_burst_ends_the_body_in_the_same_message():
    """EventStream sends a LastBurst as the body's end (one socket write with the chunked
    terminator); a stream whose end came alone ends with the usual empty message."""
    from docsdesk.http.chatkit import EventStream, LastBurst

    async def serve(chunks: list[bytes]) -> list[dict]:
        async def body():
            for chunk in chunks:
                yield chunk

        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        async def receive() -> dict:
            return {"type": "http.disconnect"} if sent and not sent[-1].get("more_body", True) else {}

        scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
        await EventStream(body(), media_type="text/event-stream")(scope, receive, send)
        return [(m["body"], m["more_body"]) for m in sent if m["type"] == "http.response.body"]

    assert await serve([b"a", LastBurst(b"b")]) == [(b"a", True), (b"b", False)]
    assert await serve([b"a", b"b"]) == [(b"a", True), (b"b", True), (b"", False)]
