"""The database work of one plain turn (threads.add_user_message, answered with a citation and
follow-up suggestions), pinned: every statement the server runs for it, so that a new round trip
on the hot path is a decision, not an accident (issue 17, point 8)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from app import create_app
from rag.ingest import ingest
from tests.support import LiveServer, new_id
from tests.support.chatkit_client import ChatKitClient, done_items, user_input
from tests.support.queue_docs import PAGES

# What a plain turn runs, in order (statements by what they do).
PLAIN_TURN = [
    "load thread + items",  # the SDK: the thread (404 before anything is written) and its newest
    # items, read together: the history window is served from them (chatkit_store/seen.py)
    "save item",  # the SDK: the user message
    "search: lexemes",  # search_docs (docs search, in one transaction)
    "search: ranked",
    "search: page evidence",  # rag.page_evidence: the best pages scored as whole pages
    "search: ranked",  # rag.top_page: the ranked statement again, on the first page's further
    # sections (the offline model's same-page quotes)
    "search: chunks",
    "answer: terms",  # the offline answerer
    "save item",  # the SDK: the answer
    "follow-ups",  # the suggestions, looked up while the answer is saved
    "save item",  # the SDK: the follow-up widget
    "turn record",  # insights, written in the background
]
TRANSACTIONS = 2  # search and the answer's terms; every other statement runs in autocommit

LABELS = {
    "SELECT CAST(threads.data AS TEXT) AS thread, (": "load thread + items",
    "SELECT CAST(threads.data": "load thread",
    "WITH thread AS": "save item",
    "SELECT page.id, page.data FROM threads": "items page",
    "SELECT q.lexeme": "search: lexemes",
    "SELECT r.id, r.page_url": "search: ranked",
    "SELECT s.page_url, count(*) AS sections": "search: page evidence",
    "SELECT c.id, c.page_title": "search: chunks",
    "SELECT w.word": "answer: terms",
    "SELECT n.page_title": "follow-ups",
    "INSERT INTO turns": "turn record",
}


def label(statement: str) -> str:
    flat = " ".join(statement.split())
    return next((name for start, name in LABELS.items() if flat.startswith(start)), flat[:80])


@contextmanager
def statements() -> Iterator[tuple[list[str], list[str]]]:
    """(every statement run meanwhile, labelled; one entry per transaction opened outside
    autocommit), across every engine of this process."""
    ran: list[str] = []
    transactions: list[str] = []

    def on_execute(conn: Connection, cursor, statement, parameters, context, executemany) -> None:
        ran.append(label(statement))

    def on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            transactions.append("begin")

    event.listen(Engine, "before_cursor_execute", on_execute)
    event.listen(Engine, "begin", on_begin)
    try:
        yield ran, transactions
    finally:
        event.remove(Engine, "before_cursor_execute", on_execute)
        event.remove(Engine, "begin", on_begin)


@pytest.fixture(scope="module")
async def collection(database, tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("statement-docs")
    for name, body in PAGES.items():
        (root / name).write_text(textwrap.dedent(body))
    name = new_id("statements")
    await ingest(database.engine, [root], base_url="https://docs.example/", collection=name)
    return name


async def test_a_plain_turn_runs_the_pinned_statements(settings, collection):
    app = create_app(settings.model_copy(update={"collection": collection}))
    async with LiveServer(app) as live, ChatKitClient(live.url) as client:
        await client.login()
        thread_id, _ = await client.new_thread("How are failed jobs retried?")
        recorder = app.state.services.recorder
        await recorder.flush()
        with statements() as (ran, transactions):
            events = await client.call(
                "threads.add_user_message",
                {"thread_id": thread_id, "input": user_input("Where do parked jobs go?")},
            )
            await recorder.flush()
    [answer] = done_items(events, "assistant_message")
    assert answer["content"][0]["annotations"], "the answer cites the docs"
    assert [w["widget"]["type"] for w in done_items(events, "widget")] == ["ListView"]  # follow-ups
    assert ran == PLAIN_TURN
    assert len(transactions) == TRANSACTIONS, ran
