"""The agent's `search_docs` tool and the per-turn context it records sources and the turn's
declared outcome on."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Annotated, Any

from agents import RunContextWrapper, function_tool
from chatkit.agents import AgentContext
from chatkit.types import ProgressUpdateEvent
from pydantic import Field, SkipValidation

from docsdesk.assistant.pieces import clip_passage
from docsdesk.core.context import PageContext, RequestContext
from docsdesk.core.turn import NotCoveredReason, SearchRecord, TurnOutcome
from docsdesk.ops.metrics import observe_search, observe_tool
from rag.pages import ReaderPage, reader_page_opening
from rag.search import DocsSearch, SearchQuery, SearchResult

MAX_PASSAGE_CHARS = 1500
NO_RESULTS = "No matching documentation found."
OFFLINE_TOP_PAGE_SECTIONS = 2  # what the offline model's searches add (`top_page_sections`)
TOP_PAGE_KEY = "more_from_first_page"  # the tool output's further sections of the first passage's page


class DocsAgentContext(AgentContext[RequestContext]):
    """ChatKit's agent context plus what this turn's searches found.

    `sources` is numbered from 1 in the order passages were first returned; the numbers the
    model sees in tool output are the numbers its [n] markers refer to."""

    search: Annotated[DocsSearch, SkipValidation]
    page: PageContext | None = None
    collection: str | None = None
    # Several collections searched together (an assistant's `collections`); each passage then
    # says which it came from. None: `collection` alone.
    collections: tuple[str, ...] | None = None
    results_per_search: int = 5
    # Further sections of the first result's page each search adds to its output, after its
    # passages (`rag.top_page`): the offline answerer quotes from them (0: none).
    top_page_sections: int = 0
    sources: list[SearchResult] = Field(default_factory=list)
    searches: list[SearchRecord] = Field(default_factory=list)
    # Set by the model through the `report_not_covered` tool (docsdesk.assistant.report).
    outcome: TurnOutcome | None = None
    not_covered_reason: NotCoveredReason | None = None
    # The reader's message is small talk ("thanks!"): its kind (`intents.small_talk`), set by
    # `run.run_agent` before the model runs; the turn is recorded as small talk.
    small_talk: str | None = None
    # The reader's previous question that this one leans on ("and can I turn it off?"), as they
    # asked it (`follow_up.leaned_on`), set by `run.run_agent`; the turn records it.
    follows: str | None = None
    # Set by the model through the `request_person` tool; `handoff_available` tells it whether
    # the hand-off form will be shown (a channel is configured).
    asked_for_person: bool = False
    handoff_available: bool = False

    def scope(self) -> dict[str, Any]:
        """The search's scope: `collections` when several, else `collection`."""
        if self.collections is not None and len(self.collections) > 1:
            return {"collections": self.collections}
        return {"collection": self.collections[0] if self.collections else self.collection}

    def number_of(self, result: SearchResult) -> int:
        """The citation number of `result`, registering it on first sight (deduplicated by URL)."""
        for number, known in enumerate(self.sources, start=1):
            if known.url == result.url:
                return number
        self.sources.append(result)
        return len(self.sources)


def _heading(result: SearchResult) -> str:
    return " › ".join([result.title, *[h for h in result.heading_path if h != result.title]])


@dataclass(frozen=True)
class PageFound:
    """The reader's page: what the widget reported, and its opening chunk (numbered) when
    that page is in the documentation."""

    title: str
    url: str
    opening: tuple[int, SearchResult] | None = None

    def as_dict(self) -> dict:
        if self.opening is None:
            return {"title": self.title, "url": self.url, "in_docs": False}
        number, result = self.opening
        text = clip_passage(result.text.strip(), MAX_PASSAGE_CHARS)
        return {
            "in_docs": True,
            "number": number,
            "heading": _heading(result),
            "url": result.url,
            "text": text,
        }


def format_passages(
    query: str,
    numbered: list[tuple[int, SearchResult]],
    unknown: list[str] | None = None,
    page: PageFound | None = None,
    with_collection: bool = False,
    more: list[tuple[int, SearchResult]] | None = None,
) -> str:
    """The tool's output: JSON, so a passage's text (document content, data) stays inside its
    own field and cannot forge another passage, number or URL. `unknown`: the query's words
    that the documentation never uses ("not_in_docs"); `page`: the reader's page
    ("reader_page"); `more`: further sections of the first passage's page, after the passages
    (TOP_PAGE_KEY). A long passage is clipped at a block boundary, never mid-sentence."""

    def entry(number: int, result: SearchResult) -> dict:
        text = clip_passage(result.text.strip(), MAX_PASSAGE_CHARS)
        passage = {"number": number, "title": _heading(result), "url": result.url, "text": text}
        if with_collection:  # several collections searched: say which each passage is from
            passage["collection"] = result.collection
        return passage

    document = {
        "query": query,
        "passages": [entry(number, result) for number, result in numbered],
        **({TOP_PAGE_KEY: [entry(number, result) for number, result in more]} if more else {}),
        **({"not_in_docs": unknown} if unknown else {}),
        **({"reader_page": page.as_dict()} if page is not None else {}),
    }
    return json.dumps(document, ensure_ascii=False, indent=1)


def no_results(query: str, unknown: list[str] | None = None) -> str:
    document = {
        "query": query,
        "passages": [],
        "note": NO_RESULTS,
        **({"not_in_docs": unknown} if unknown else {}),
    }
    return json.dumps(document, ensure_ascii=False)


async def run_search(ctx: DocsAgentContext, query: str) -> str:
    query = " ".join(query.split())[:500]
    if not query:
        return no_results("")
    await ctx.stream(ProgressUpdateEvent(icon="search", text=f"Searching the docs for “{query}”"))
    started = time.perf_counter()
    opening = await _reader_page(ctx)
    found = await ctx.search.find(
        SearchQuery.of(
            query,
            k=ctx.results_per_search,
            **ctx.scope(),
            prefer_url=opening.url if opening else ctx.page.url if ctx.page else None,
            tenant=ctx.request_context.tenant_id,  # the tenant's own reader terms apply
            page_sections=ctx.top_page_sections,
        )
    )
    results = found.results
    observe_search(time.perf_counter() - started, len(results))
    unknown = await ctx.search.unknown_words(query, **ctx.scope(), tenant=ctx.request_context.tenant_id)
    ctx.searches.append(
        SearchRecord(query, len(results), max((r.score for r in results), default=None), unknown)
    )
    if not results:
        return no_results(query, unknown)
    numbered = [(ctx.number_of(r), r) for r in results]
    more = [(ctx.number_of(r), r) for r in found.top_page]
    page = None
    if ctx.page is not None:
        page = PageFound(
            ctx.page.title or "", ctx.page.url or "", (ctx.number_of(opening), opening) if opening else None
        )
    return format_passages(query, numbered, unknown, page, "collections" in ctx.scope(), more)


async def _reader_page(ctx: DocsAgentContext) -> SearchResult | None:
    """The opening chunk of the indexed page the reader is on, found even when the reported
    URL differs from the indexed one (rag.pages)."""
    if ctx.page is None:
        return None
    reader = ReaderPage(ctx.page.url or "", ctx.page.title or "", (ctx.page.headings or [""])[0])
    first = ctx.collections[0] if ctx.collections else ctx.collection
    return await reader_page_opening(ctx.search.engine, reader, first, ctx.search.public_url)


# failure_error_function=None: a failing search ends the turn with a retryable error event
# (logged with the request id) instead of letting the model improvise around it.
@function_tool(failure_error_function=None)
async def search_docs(ctx: RunContextWrapper[DocsAgentContext], query: str) -> str:
    """Search the documentation and return numbered passages with their title and URL.

    Args:
        query: What to look for, in a few words or a short question.
    """
    started, outcome = time.perf_counter(), "error"
    try:
        result = await run_search(ctx.context, query)
        outcome = "ok"
        return result
    finally:
        observe_tool("search_docs", outcome, time.perf_counter() - started)
