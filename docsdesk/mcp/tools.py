"""What the MCP tools do, scoped to one assistant's collections: search, read a page, list the
collections. Transport-free (the HTTP endpoint and `docsdesk mcp` over stdio share it), typed
results, and each search recorded like a widget turn for the insights (channel `mcp`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.core.turn import NotCoveredReason, SearchRecord, TurnChannel, TurnOutcome
from docsdesk.insights.turns import TurnRecorder, turn_record
from docsdesk.mcp.assistants import McpAssistant, McpAssistants
from docsdesk.mcp.pages import read_page
from rag.collections import list_collections
from rag.search import MAX_K, MAX_QUERY_CHARS, DocsSearch, SearchResult

log = logging.getLogger("docsdesk.mcp")


class ToolRefused(Exception):
    """A tool call the caller got wrong (unknown collection, page not indexed): the message
    is for the agent."""


@dataclass(frozen=True)
class Principal:
    """Who calls: an assistant's key (`key_id`), or anyone (`key_id` None) for a public one;
    `user_hash` stands for the caller in the insights (a salted hash, never the key or address)."""

    assistant: str
    key_id: str | None
    user_hash: str


def not_covered_reason(
    query: str, results: Sequence[SearchResult], unknown: Sequence[str]
) -> NotCoveredReason | None:
    """Why a search counts as not covered by the docs, or None when covered: it found no
    passage, or the docs lack at least half of its words. With vectors, a search always finds
    its nearest passages, so "kubernetes helm chart" over docs that never name Kubernetes or
    Helm still returns some: the missing words are the evidence that the docs do not cover it."""
    if not results:
        return NotCoveredReason.NO_RESULTS
    return NotCoveredReason.ABSENT_TERMS if 2 * len(unknown) >= len(query.split()) else None


class Passage(BaseModel):
    title: str = Field(description="the page's title")
    section: str = Field(description="the headings leading to the passage, ' › ' between them")
    url: str = Field(description="the passage's section: page URL with its anchor; cite this")
    page_url: str = Field(description="the page; pass it to fetch_page to read the whole page")
    score: float = Field(description="relevance in [0, 1], higher is better")
    collection: str
    text: str = Field(description="the passage, Markdown")


class SearchResults(BaseModel):
    query: str
    results: list[Passage]
    not_in_docs: list[str] = Field(
        default_factory=list, description="words of the query that no page of these docs uses"
    )


class PageResult(BaseModel):
    url: str
    title: str
    collection: str
    markdown: str
    truncated: bool = False


class CollectionInfo(BaseModel):
    name: str
    pages: int
    chunks: int
    last_ingest: str | None


class Collections(BaseModel):
    assistant: str
    collections: list[CollectionInfo]


def _section(result: SearchResult) -> str:
    headings = [h for h in result.heading_path if h != result.title]
    return " › ".join(headings)


class DocsTools:
    """The tools' work for any transport."""

    def __init__(
        self,
        engine: AsyncEngine,
        search: DocsSearch,
        assistants: McpAssistants,
        recorder: TurnRecorder | None = None,
    ) -> None:
        self.engine = engine
        self.search_engine = search
        self.assistants = assistants
        self.recorder = recorder

    def assistant(self, principal: Principal) -> McpAssistant:
        assistant = self.assistants.get(principal.assistant)
        if assistant is None:  # a key for an assistant since removed from the configuration
            raise ToolRefused(f"there is no assistant {principal.assistant!r} any more")
        return assistant

    async def scope(self, principal: Principal, collection: str | None) -> list[str]:
        """The collections a call may read: the assistant's, or the one of them it names."""
        allowed = await self.assistant(principal).collections()
        if collection is None or collection == "":
            return allowed
        if collection not in allowed:
            raise ToolRefused(
                f"no collection {collection[:80]!r} here; this assistant's collections: {', '.join(allowed)}"
            )
        return [collection]

    async def search_docs(
        self, principal: Principal, query: str, k: int = 5, collection: str | None = None
    ) -> SearchResults:
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        if not query:
            raise ToolRefused("the query is empty: say what to look for in a few words")
        k = max(1, min(int(k), MAX_K))
        scope = await self.scope(principal, collection)
        started = time.perf_counter()
        found = await asyncio.gather(*(self.search_engine.search(query, k=k, collection=c) for c in scope))
        results = sorted((r for rs in found for r in rs), key=lambda r: -r.score)[:k]
        unknown = await self.search_engine.unknown_words(query, collections=scope)
        self._record(principal, scope[0], query, results, unknown, time.perf_counter() - started)
        passages = [
            Passage(
                title=r.title,
                section=_section(r),
                url=r.url,
                page_url=r.url.split("#", 1)[0],
                score=round(r.score, 4),
                collection=r.collection,
                text=r.text,
            )
            for r in results
        ]
        return SearchResults(query=query, results=passages, not_in_docs=unknown)

    def _record(
        self,
        principal: Principal,
        collection: str,
        query: str,
        results: Sequence[SearchResult],
        unknown: list[str],
        seconds: float,
    ) -> None:
        """The search as a turn of channel `mcp`: no thread, no answer; not covered when it
        found nothing or the docs lack most of its words (`not_covered_reason`); the passages'
        URLs as its sources."""
        if self.recorder is None:
            return
        best = max((r.score for r in results), default=None)
        reason = not_covered_reason(query, results, unknown)
        self.recorder.record(
            turn_record(
                thread_id=None,
                question_item_id=None,
                question=query,
                tenant_id="",
                user_hash=principal.user_hash,
                collection=collection,
                outcome=TurnOutcome.ANSWERED if reason is None else TurnOutcome.NOT_COVERED,
                not_covered_reason=reason,
                model="",
                created_at=datetime.now(UTC),
                answers=(),
                page=None,
                searches=[SearchRecord(query, len(results), best, unknown)],
                first_text_seconds=None,
                duration_seconds=seconds,
                channel=TurnChannel.MCP,
                assistant=principal.assistant,
                sources=[r.url for r in results],
            )
        )

    async def fetch_page(self, principal: Principal, url: str) -> PageResult:
        scope = await self.scope(principal, None)
        page = await read_page(self.engine, url, scope, self.search_engine.public_url)
        if page is None:
            raise ToolRefused(
                f"no indexed page at {url[:200]!r} in these docs; use a page_url from search_docs"
            )
        return PageResult(
            url=page.url,
            title=page.title,
            collection=page.collection,
            markdown=page.markdown,
            truncated=page.truncated,
        )

    async def list_collections(self, principal: Principal) -> Collections:
        scope = await self.scope(principal, None)
        summaries = {s.name: s for s in await list_collections(self.engine)}
        infos = []
        for name in scope:
            summary = summaries.get(name)
            infos.append(
                CollectionInfo(
                    name=name,
                    pages=summary.files if summary else 0,
                    chunks=summary.chunks if summary else 0,
                    last_ingest=summary.last_ingest.isoformat() if summary and summary.last_ingest else None,
                )
            )
        return Collections(assistant=principal.assistant, collections=infos)
