"""A database outage under a running app (its own embedded PostgreSQL, stopped and restarted
underneath): 503 `database_unavailable` with Retry-After for every request that needs the
database, a retryable error event for a stream under way (its user message kept, no half-written
answer), one log line per failure kind per interval, and pool gauges that stay true."""

from __future__ import annotations

import asyncio
import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from docsdesk.core.database import EmbeddedPostgres
from docsdesk.ops.outage import OutageLogFilter, RateLimiter, outage_kind
from tests.support import LiveServer
from tests.support.assistants import use_model
from tests.support.chatkit_client import ChatKitClient, open_turn, parse_sse, user_input
from tests.support.outage import outage_settings
from tests.support.scripted_model import GatedModel

UNLIMITED = "100000/minute"


def gauge(text: str, name: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def body(kind: str, params: dict) -> str:
    return json.dumps({"type": kind, "params": params})


async def test_outage_is_503_streams_end_retryable_logs_stay_short(base_settings, tmp_path, capsys):
    pgdir = tmp_path / "outage-pg"
    pg = await asyncio.to_thread(EmbeddedPostgres.start, pgdir)
    try:
        settings = outage_settings(base_settings, pg.url)
        app = create_app(settings)
        async with LiveServer(app) as live, ChatKitClient(live.url) as client:
            await client.login()
            thread_id, _ = await client.new_thread("How do I install it?")
            model = use_model(app, GatedModel())

            # A turn under way: its user message is stored, the model has not answered yet.
            add = {"thread_id": thread_id, "input": user_input("And then?")}
            stream, chunks, received = await open_turn(
                client, {"type": "threads.add_user_message", "params": add}
            )

            await asyncio.to_thread(pg.stop)  # the database goes away under the running app
            model.gate.set()
            async for chunk in chunks:
                received += chunk
            events = parse_sse(received.decode())
            assert events[-1]["type"] == "error", events[-3:]
            assert events[-1]["allow_retry"] is True

            # Every request that needs the database: 503 with Retry-After, never a 500.
            requests = [
                body("threads.list", {"limit": 5}),
                body("threads.get_by_id", {"thread_id": thread_id}),
                body("threads.create", {"input": user_input("Anyone there?")}),
                body("threads.add_user_message", {"thread_id": thread_id, "input": user_input("Hello?")}),
            ] * 10
            for payload in requests:
                response = await client.raw(payload)
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "database_unavailable"
                assert int(response.headers["Retry-After"]) >= 1
            assert (await client.http.get("/healthz")).status_code == 200
            during = (await client.http.get("/metrics")).text
            assert gauge(during, "docsdesk_db_pool_connections_in_use") >= 0

            pg = await asyncio.to_thread(EmbeddedPostgres.start, pgdir)
            for _ in range(100):  # the pool discards its dead connections, then serves again
                items = await client.raw(
                    body("items.list", {"thread_id": thread_id, "limit": 50, "order": "asc"})
                )
                if items.status_code == 200:
                    break
                assert items.status_code == 503, items.text
                await asyncio.sleep(0.1)
            assert items.status_code == 200, items.text
            stored = [item["type"] for item in items.json()["data"]]
            # The interrupted turn's question is kept; no answer was half-written for it.
            assert stored[-1] == "user_message", stored
            texts = [i["content"][0]["text"] for i in items.json()["data"] if i["type"] == "user_message"]
            assert texts[-1] == "And then?"
            after = (await client.http.get("/metrics")).text
            assert gauge(after, "docsdesk_db_pool_connections_in_use") == 0
            assert gauge(after, "docsdesk_errors_total") > 0
    finally:
        await asyncio.to_thread(pg.stop)

    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    outage = [line for line in lines if "database unavailable" in line["message"]]
    # 40 refused requests and a failed stream: one line per failure kind in the interval.
    kinds = {line["message"].split("database unavailable (")[1].split(")")[0] for line in outage}
    assert outage and len(outage) == len(kinds), [line["message"] for line in outage]
    assert all(line["level"] == "warning" and "exc" not in line for line in outage)


async def test_pool_timeout_is_503(settings):
    app = create_app(
        settings.model_copy(
            update={
                "db_pool_size": 1,
                "db_max_overflow": 0,
                "db_pool_timeout_seconds": 0.3,
            }
        )
    )
    async with LiveServer(app) as live, ChatKitClient(live.url) as client:
        await client.login()
        engine = app.state.services.database.engine
        async with engine.connect() as held:  # the pool's only connection
            await held.exec_driver_sql("SELECT 1")
            response = await client.request("threads.list", {"limit": 1})
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "database_unavailable"
        assert response.headers["Retry-After"]
        assert (await client.request("threads.list", {"limit": 1})).status_code == 200


def test_outage_classification_leaves_other_errors_alone():
    import asyncpg
    import sqlalchemy.exc

    assert outage_kind(sqlalchemy.exc.TimeoutError("QueuePool limit reached")) == "pool_timeout"
    assert outage_kind(asyncpg.exceptions.AdminShutdownError("terminating")) == "server_shutdown"
    assert outage_kind(asyncpg.exceptions.ConnectionDoesNotExistError("closed")) == "connection_lost"
    # The database not answering in time is one too (docsdesk.core.outage decides why).
    assert outage_kind(asyncpg.exceptions.QueryCanceledError("statement timeout")) == "statement_timeout"
    # A bad query, or an OSError from elsewhere, is not an outage.
    assert outage_kind(asyncpg.exceptions.UndefinedTableError("no such table")) is None
    assert outage_kind(ConnectionRefusedError("not from the database")) is None
    assert outage_kind(RuntimeError("boom")) is None


def test_outage_log_lines_are_rate_limited_per_kind():
    import asyncpg

    limiter = RateLimiter(interval=60)
    log_filter = OutageLogFilter(limiter)

    def record(exc: BaseException) -> logging.LogRecord:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, (type(exc), exc, None))

    shutdown = asyncpg.exceptions.AdminShutdownError("terminating connection")
    first = record(shutdown)
    assert log_filter.filter(first)
    assert first.exc_info is None and first.levelname == "WARNING"
    assert "database unavailable (server_shutdown)" in first.getMessage()
    assert not any(log_filter.filter(record(shutdown)) for _ in range(50))
    assert log_filter.filter(record(asyncpg.exceptions.ConnectionDoesNotExistError("gone")))  # another kind
    plain = record(RuntimeError("a bug"))
    assert log_filter.filter(plain) and plain.exc_info is not None  # other errors keep their traceback
