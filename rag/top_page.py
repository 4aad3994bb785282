"""The further sections of the top result's page (used by `rag.search`): the search ranks
chunks across the collection and shows a page's best two at most (`rag.ranking.diversified`),
so the section of the first page that answers may be below the top k. This ranks that page's
other chunks for the same query: the search's full-text statement (`full_text_sql`, its plan
and scope), restricted to the page of the first result (same collection, same page URL) and
to the chunks not already among the results, with every lexeme of the query selecting (a page
has few chunks)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from rag.ranking import LEXICAL_WEIGHT, FullTextPlan, Ranked, full_text_sql

if TYPE_CHECKING:
    from rag.search import SearchQuery

MAX_PAGE_SECTIONS = 3  # at most this many further sections of the top page


def page_scope(query: SearchQuery) -> str:
    """The search's scope, narrowed to the page (and collection) of the chunk `:top`, without
    the chunks `:shown`."""
    return (
        f"{query.scope('c.collection')}"
        " AND (c.collection, c.page_url) = (SELECT t.collection, t.page_url FROM docs_chunks t WHERE t.id = :top)"
        " AND c.id <> ALL(CAST(:shown AS bigint[]))"
    )


async def top_page_scores(
    conn: AsyncConnection, query: SearchQuery, plan: FullTextPlan, shown: list[int], lexical: list[Ranked]
) -> dict[int, float]:
    """The best `query.page_sections` (at most MAX_PAGE_SECTIONS) chunks of the page of
    `shown[0]` (the top result) for `query`, other than the `shown` ones, best first, each with
    the full-text share a fused score would give it (`lexical`: the search's full-text list)."""
    count = min(query.page_sections, MAX_PAGE_SECTIONS)
    if not shown or count <= 0 or plan.highlight is None:
        return {}
    page_plan = replace(plan, any=plan.highlight)  # within a page, any lexeme of the query selects
    sql = full_text_sql(page_plan, "tsv", scope=page_scope(query), negated=bool(query.negated))
    values = {
        **query.binds,
        **page_plan.binds,
        "negated": query.negated,
        "depth": count,
        "top": shown[0],
        "shown": shown,
    }
    rows = (await conn.execute(query.statement(sql), values)).all()
    top = max((r.score for r in lexical), default=0.0) or 1.0
    return {row.id: LEXICAL_WEIGHT * row.score / top for row in rows}
