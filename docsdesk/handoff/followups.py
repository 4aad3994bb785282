"""Follow-up suggestions, offline: questions about the sections next to the ones an answer
cited (the same page, one or two sections before or after), at most three, as a widget whose
buttons ask them (docsdesk.handoff.widgets.follow_ups)."""

from __future__ import annotations

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
    """Up to three questions about the sections next to the cited ones."""
    if not cited:
        return []
    async with engine.connect() as conn:
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
