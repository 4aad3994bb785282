"""Turn records (table `turns`, migration 0003), written off the hot path.

A turn hands its record to `TurnRecorder.record()`, which only appends to a bounded queue:
it never waits for the database. One background task drains the queue in batches (one
INSERT per batch). When the queue is full (the database is far behind) records are dropped
and counted, never the turn slowed. On shutdown the recorder writes what is queued.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime

from chatkit.types import AssistantMessageItem
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_store.schema import TURN_OUTCOMES
from docsdesk.core.context import DEFAULT_ASSISTANT, PageContext
from docsdesk.core.turn import NotCoveredReason, SearchRecord, TurnChannel, TurnOutcome

log = logging.getLogger("docsdesk.turns")

MAX_QUESTION_CHARS = 8_000
MAX_ANSWER_CHARS = 20_000


@dataclass
class TurnRecord:
    thread_id: str | None  # None: a search made outside a conversation (channel `mcp`)
    question_item_id: str | None
    tenant_id: str
    user_hash: str
    collection: str
    question: str
    outcome: TurnOutcome
    model: str
    created_at: datetime
    answer_item_id: str | None = None
    answer: str = ""
    page_url: str | None = None
    page_title: str | None = None
    searches: list[SearchRecord] = field(default_factory=list)
    cited_urls: list[str] = field(default_factory=list)
    first_text_ms: int | None = None
    duration_ms: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    channel: TurnChannel = TurnChannel.WIDGET  # migration 0007
    assistant: str = DEFAULT_ASSISTANT
    not_covered_reason: NotCoveredReason | None = None  # migration 0018
    follows: str | None = None  # the earlier question a follow-up leans on; migration 0020

    def row(self) -> dict:
        if self.outcome not in TURN_OUTCOMES:
            raise ValueError(f"unknown turn outcome {self.outcome!r}")
        if self.not_covered_reason is not None and self.outcome != TurnOutcome.NOT_COVERED:
            raise ValueError(f"a {self.outcome} turn has no not-covered reason")
        row = {name: getattr(self, name) for name in _FIELDS}  # cheaper than asdict()
        row["outcome"] = str(self.outcome)
        row["channel"] = str(self.channel)
        row["not_covered_reason"] = str(self.not_covered_reason) if self.not_covered_reason else None
        row["searches"] = [s.as_json() for s in self.searches]
        row["question"] = self.question[:MAX_QUESTION_CHARS]
        row["follows"] = self.follows[:MAX_QUESTION_CHARS] if self.follows else None
        row["answer"] = self.answer[:MAX_ANSWER_CHARS]
        row["created_at"] = self.created_at.isoformat()
        return row


_FIELDS = tuple(f.name for f in fields(TurnRecord))


# Rows arrive as one JSON array; rows whose thread is already gone are skipped (the
# conversation was deleted while its record waited); search-only rows (MCP) have no thread.
_INSERT = text(
    """
    INSERT INTO turns (thread_id, question_item_id, answer_item_id, tenant_id, user_hash,
                       collection, question, page_url, page_title, searches, cited_urls,
                       answer, outcome, model, first_text_ms, duration_ms, input_tokens,
                       output_tokens, created_at, channel, assistant, not_covered_reason,
                       follows)
    SELECT r.thread_id, r.question_item_id, r.answer_item_id, r.tenant_id, r.user_hash,
           r.collection, r.question, r.page_url, r.page_title, coalesce(r.searches, '[]'),
           coalesce(ARRAY(SELECT jsonb_array_elements_text(r.cited_urls)), '{}'),
           r.answer, r.outcome, r.model, r.first_text_ms, r.duration_ms, r.input_tokens,
           r.output_tokens, r.created_at, coalesce(r.channel, 'widget'), r.assistant,
           r.not_covered_reason, r.follows
    FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS (
        thread_id text, question_item_id text, answer_item_id text, tenant_id text,
        user_hash text, collection text, question text, page_url text, page_title text,
        searches jsonb, cited_urls jsonb, answer text, outcome text, model text,
        first_text_ms integer, duration_ms integer, input_tokens integer,
        output_tokens integer, created_at timestamptz, channel text, assistant text,
        not_covered_reason text, follows text)
    ) WITH ORDINALITY AS r(
        thread_id, question_item_id, answer_item_id, tenant_id, user_hash, collection, question,
        page_url, page_title, searches, cited_urls, answer, outcome, model, first_text_ms,
        duration_ms, input_tokens, output_tokens, created_at, channel, assistant, not_covered_reason,
        follows, n)
    WHERE r.thread_id IS NULL OR EXISTS (SELECT 1 FROM threads t WHERE t.id = r.thread_id)
    ORDER BY r.n
    """
)


async def write_turns(engine: AsyncEngine, records: list[TurnRecord]) -> None:
    """Insert `records` in one statement, its own transaction (autocommit: all rows or none,
    without the BEGIN and COMMIT round trips)."""
    if not records:
        return
    payload = json.dumps([r.row() for r in records], ensure_ascii=False)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(_INSERT, {"rows": payload})


class TurnRecorder:
    """The bounded queue and the batch writer behind it."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        enabled: bool = True,
        max_queue: int = 10_000,
        batch_size: int = 500,
        linger_seconds: float = 0.5,
    ) -> None:
        self.engine = engine
        self.enabled = enabled
        self.batch_size = batch_size
        self.linger_seconds = linger_seconds
        self._queue: asyncio.Queue[TurnRecord] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task | None = None
        self.dropped = 0
        self.written = 0

    def record(self, record: TurnRecord) -> None:
        """Queue `record` for writing; never blocks. Dropped (and counted) when full."""
        if not self.enabled:
            return
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("turn records dropped: the writer is behind (%d so far)", self.dropped)

    def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="docsdesk-turn-writer")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop the writer after writing everything queued."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), grace_seconds)
        except TimeoutError:
            log.warning("turn records still queued at shutdown: %d", self._queue.qsize())
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        while not self._queue.empty():
            await self._write(self._take_batch())

    async def flush(self) -> None:
        """Wait until everything queued so far is written (tests, benchmarks)."""
        if self._task is None:
            while not self._queue.empty():
                await self._write(self._take_batch())
            return
        await self._queue.join()

    def _take_batch(self) -> list[TurnRecord]:
        batch: list[TurnRecord] = []
        while len(batch) < self.batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            # Let a burst gather into one statement.
            if self._queue.qsize() < self.batch_size and self.linger_seconds > 0:
                await asyncio.sleep(self.linger_seconds)
            batch = [first, *self._take_batch()]
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[TurnRecord]) -> None:
        if not batch:
            return
        try:
            await write_turns(self.engine, batch)
            self.written += len(batch)
        except DBAPIError as exc:
            if len(batch) > 1 and getattr(exc.orig, "sqlstate", "") == "23503":
                # A thread deleted between the check and the insert: write the rest one by one.
                for one in batch:
                    await self._write([one])
                return
            self.dropped += len(batch)
            log.warning("could not write %d turn records: %s", len(batch), str(exc).splitlines()[0])
        except Exception:  # the writer must outlive any one bad batch
            self.dropped += len(batch)
            log.exception("could not write %d turn records", len(batch))


def turn_record(
    *,
    thread_id: str | None,
    question_item_id: str | None,
    question: str,
    tenant_id: str,
    user_hash: str,
    collection: str,
    outcome: TurnOutcome,
    model: str,
    created_at: datetime,
    answers: Sequence[AssistantMessageItem],
    page: PageContext | None,
    searches: Sequence[SearchRecord],
    first_text_seconds: float | None,
    duration_seconds: float,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    channel: TurnChannel = TurnChannel.WIDGET,
    sources: Sequence[str] = (),
    assistant: str = DEFAULT_ASSISTANT,
    not_covered_reason: NotCoveredReason | None = None,
    follows: str | None = None,
) -> TurnRecord:
    """A turn's record from what the turn produced: its answer text and cited URLs come from
    the finished answer items (their annotations), never from parsing the text. An MCP search
    has no thread and no answer: its `sources` are the passages' URLs it gave the agent."""
    return TurnRecord(
        thread_id=thread_id,
        question_item_id=question_item_id,
        tenant_id=tenant_id,
        user_hash=user_hash,
        collection=collection,
        question=question,
        outcome=outcome,
        model=model,
        created_at=created_at,
        answer_item_id=answers[-1].id if answers else None,
        answer="\n\n".join(part.text for item in answers for part in item.content),
        page_url=page.url if page else None,
        page_title=page.title if page else None,
        searches=list(searches),
        cited_urls=_cited_urls(answers, sources),
        first_text_ms=round(first_text_seconds * 1000) if first_text_seconds is not None else None,
        duration_ms=round(duration_seconds * 1000),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        channel=channel,
        assistant=assistant,
        not_covered_reason=not_covered_reason,
        follows=follows,
    )


def _cited_urls(answers: Sequence[AssistantMessageItem], sources: Sequence[str]) -> list[str]:
    """`sources`, then the URLs the answer items' annotations cite, each once, in order."""
    cited = [
        url
        for item in answers
        for part in item.content
        for annotation in part.annotations
        if (url := getattr(annotation.source, "url", None))
    ]
    return list(dict.fromkeys([*sources, *cited]))
