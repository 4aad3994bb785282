"""Follow-up suggestions, offline: questions about the sections next to the ones an answer
cited (the same page, one or two sections before or after), at most three, as a widget whose
buttons ask them (docsdesk.handoff.widgets.follow_ups)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from chatkit.types import (
    AssistantMessageItem,
    InferenceOptions,
    ThreadMetadata,
    URLSource,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_store import PostgresStore
from docsdesk.core.context import RequestContext
from docsdesk.handoff.widgets import follow_ups
from rag.search import SearchResult

log = logging.getLogger("docsdesk.handoff")

MAX_FOLLOW_UPS = 3
NEIGHBOURS = 2  # sections on either side of a cited one
MAX_QUESTION_CHARS = 200

_NEIGHBOURS = text(
    """
    SELECT n.page_title, n.heading_path, abs(n.ordinal - c.ordinal) AS distance
    FROM docs_chunks c
    JOIN docs_chunks n ON n.document_id = c.document_id AND n.collection = c.collection
    WHERE c.id = ANY(:cited) AND c.collection = :collection
      AND n.id <> ALL(:cited) AND abs(n.ordinal - c.ordinal) BETWEEN 1 AND :reach
      AND n.heading_path <> c.heading_path
    ORDER BY distance, n.ordinal
    LIMIT 50
    """
)


def cited_results(answers: list[AssistantMessageItem], sources: list[SearchResult]) -> list[SearchResult]:
    """The search results the answers cite (by URL), in citation order."""
    urls = [
        a.source.url
        for item in answers
        for content in item.content
        for a in content.annotations
        if isinstance(a.source, URLSource)
    ]
    by_url = {s.url: s for s in sources}
    return [by_url[u] for u in dict.fromkeys(urls) if u in by_url]


def question_for(heading: str, page_title: str) -> str:
    name = " ".join(heading.split())
    where = f" ({' '.join(page_title.split())})" if page_title and page_title != name else ""
    return f"Tell me about “{name}”{where}"[:MAX_QUESTION_CHARS]


async def suggestions(engine: AsyncEngine, cited: list[SearchResult]) -> list[str]:
    """Up to three questions about the sections next to the cited ones. One statement, run
    in autocommit (no BEGIN and ROLLBACK round trips around it)."""
    if not cited:
        return []
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = (
            await conn.execute(
                _NEIGHBOURS,
                {
                    "cited": [c.chunk_id for c in cited],
                    "collection": cited[0].collection,
                    "reach": NEIGHBOURS,
                },
            )
        ).all()
    questions: list[str] = []
    cited_headings = {c.heading_path[-1] if c.heading_path else c.title for c in cited}
    for row in rows:
        heading = row.heading_path[-1] if row.heading_path else ""
        if not heading.strip() or heading in cited_headings:
            continue
        question = question_for(heading, row.page_title)
        if question not in questions:
            questions.append(question)
        if len(questions) == MAX_FOLLOW_UPS:
            break
    return questions


class FollowUps:
    """One turn's suggestions, looked up while the turn goes on: `answered` starts the query
    as soon as an answer is finished (so it runs while the SDK saves that answer), again for
    a later answer of the same turn; `questions` waits for the latest. `discard` when the turn
    shows none (it failed, or ends with another widget): the query is cancelled."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._task: asyncio.Task[list[str]] | None = None

    def answered(self, answers: list[AssistantMessageItem], sources: list[SearchResult]) -> None:
        self.discard()
        cited = cited_results(answers, sources)
        if cited:
            self._task = asyncio.create_task(suggestions(self._engine, cited))
            self._task.add_done_callback(_unawaited_failure)

    async def questions(self) -> list[str]:
        task, self._task = self._task, None
        return await task if task is not None else []

    def discard(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()


def _unawaited_failure(task: asyncio.Task[list[str]]) -> None:
    """Retrieves a failure of a lookup nobody awaits (a discarded one), so that it is logged
    here rather than as "Task exception was never retrieved"."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.debug("follow-up suggestions failed", exc_info=exc)


def follow_up_item(
    store: PostgresStore, thread: ThreadMetadata, ctx: RequestContext, questions: list[str]
) -> WidgetItem:
    return WidgetItem(
        id=store.generate_item_id("message", thread, ctx),
        thread_id=thread.id,
        created_at=datetime.now(),
        widget=follow_ups(questions),
    )


def question_item(
    store: PostgresStore, thread: ThreadMetadata, ctx: RequestContext, question: str
) -> UserMessageItem:
    """The reader's message when a follow-up button is clicked."""
    return UserMessageItem(
        id=store.generate_item_id("message", thread, ctx),
        thread_id=thread.id,
        created_at=datetime.now(),
        content=[UserMessageTextContent(text=question)],
        attachments=[],
        inference_options=InferenceOptions(),
    )
