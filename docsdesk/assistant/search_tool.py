"""The agent's `search_docs` tool and the per-turn context it records sources and the turn's
declared outcome on."""

from __future__ import annotations

import json
import time
from typing import Annotated

from agents import RunContextWrapper, function_tool
from chatkit.agents import AgentContext
from chatkit.types import ProgressUpdateEvent
from pydantic import Field, SkipValidation

from docsdesk.core.context import PageContext, RequestContext
from docsdesk.core.turn import SearchRecord, TurnOutcome
from docsdesk.ops.metrics import observe_search, observe_tool
from rag.search import DocsSearch, SearchResult

MAX_PASSAGE_CHARS = 1500
NO_RESULTS = "No matching documentation found."


class DocsAgentContext(AgentContext[RequestContext]):
    """ChatKit's agent context plus what this turn's searches found.

    `sources` is numbered from 1 in the order passages were first returned; the numbers the
    model sees in tool output are the numbers its [n] markers refer to."""

    search: Annotated[DocsSearch, SkipValidation]
    page: PageContext | None = None
    collection: str | None = None
    results_per_search: int = 5
    sources: list[SearchResult] = Field(default_factory=list)
    searches: list[SearchRecord] = Field(default_factory=list)
    # Set by the model through the `report_not_covered` tool (docsdesk.assistant.report).
    outcome: TurnOutcome | None = None

    def number_of(self, result: SearchResult) -> int:
        """The citation number of `result`, registering it on first sight (deduplicated by URL)."""
        for number, known in enumerate(self.sources, start=1):
            if known.url == result.url:
                return number
        self.sources.append(result)
        return len(self.sources)


def format_passages(
    query: str, numbered: list[tuple[int, SearchResult]], unknown: list[str] | None = None
) -> str:
    """The tool's output: JSON, so a passage's text (document content, data) stays inside its
    own field and cannot forge another passage, number or URL. `unknown`: the query's words
    that the documentation never uses ("not_in_docs")."""
    passages = []
    for number, result in numbered:
        heading = " › ".join([result.title, *[h for h in result.heading_path if h != result.title]])
        text = result.text.strip()
        if len(text) > MAX_PASSAGE_CHARS:
            text = text[:MAX_PASSAGE_CHARS].rsplit(" ", 1)[0] + " …"
        passages.append({"number": number, "title": heading, "url": result.url, "text": text})
    document = {"query": query, "passages": passages, **({"not_in_docs": unknown} if unknown else {})}
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
    results = await ctx.search.search(
        query,
        k=ctx.results_per_search,
        collection=ctx.collection,
        prefer_url=ctx.page.url if ctx.page else None,
    )
    observe_search(time.perf_counter() - started, len(results))
    unknown = await ctx.search.unknown_words(query, collection=ctx.collection)
    ctx.searches.append(
        SearchRecord(query, len(results), max((r.score for r in results), default=None), unknown)
    )
    if not results:
        return no_results(query, unknown)
    return format_passages(query, [(ctx.number_of(r), r) for r in results], unknown)


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
