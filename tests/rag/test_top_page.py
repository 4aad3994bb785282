"""The further sections of the top result's page (rag.top_page), on real PostgreSQL: the
search's full-text ranking restricted to that page, in the search's scope, without the
results, best first, capped."""

from __future__ import annotations

import pytest

from rag.ingest import ingest
from rag.search import DocsSearch, SearchQuery
from rag.top_page import MAX_PAGE_SECTIONS
from tests.support import new_id, write_pages

BASE = "https://docs.example.test/"
PAGES = {
    "webhooks.md": (
        "# Webhooks\n\nWebhooks tell your server about events as they happen.\n\n"
        "## Verify signatures\n\nCheck the webhook signature header with your signing secret.\n\n"
        "## Register an endpoint\n\nRegister the webhook endpoint URL in the dashboard.\n\n"
        "## Retry policy\n\nFailed webhook deliveries are retried with backoff.\n\n"
        "## Changelog\n\nVersion notes live elsewhere.\n"
    ),
    "events.md": "# Events\n\nEvery event has a type. A webhook signature protects it.\n",
}


@pytest.fixture(scope="module")
async def sites(database, tmp_path_factory):
    """The pages in two collections under the same base URL: the same page URLs in both."""
    root = write_pages(tmp_path_factory.mktemp("top-page"), PAGES)
    mine, theirs = new_id("c"), new_id("c")
    for collection in (mine, theirs):
        await ingest(database.engine, [root], base_url=BASE, collection=collection)
    return mine, theirs


async def test_the_top_pages_further_sections_come_best_first_without_the_results(engine, sites):
    mine, _ = sites
    search = DocsSearch(engine)
    found = await search.find(
        SearchQuery.of("verify the webhook signature", k=1, collection=mine, page_sections=2)
    )
    [top] = found.results
    assert top.url == BASE + "webhooks/#verify-signatures"
    assert len(found.top_page) == 2
    assert {r.source_path for r in found.top_page} == {"webhooks.md"}
    assert top.chunk_id not in {r.chunk_id for r in found.top_page}
    assert all(r.url.startswith(BASE + "webhooks/#") for r in found.top_page)
    assert found.top_page[0].score >= found.top_page[1].score > 0
    # The results are the search's own, unchanged by the further sections.
    assert [r.chunk_id for r in found.results] == [
        r.chunk_id for r in await search.search("verify the webhook signature", k=1, collection=mine)
    ]


async def test_only_sections_holding_a_word_of_the_query_at_most_three(engine, sites):
    mine, _ = sites
    found = await DocsSearch(engine).find(
        SearchQuery.of("verify the webhook signature", k=1, collection=mine, page_sections=10)
    )
    headings = [r.heading_path[-1] for r in found.top_page]
    assert len(headings) == MAX_PAGE_SECTIONS
    assert "Changelog" not in headings  # holds no word of the query
    assert set(headings) == {"Webhooks", "Register an endpoint", "Retry policy"}


async def test_the_search_scope_and_negated_words_hold(engine, sites):
    mine, theirs = sites
    search = DocsSearch(engine)
    found = await search.find(SearchQuery.of("webhook signature", k=1, collection=theirs, page_sections=3))
    assert {r.collection for r in [*found.results, *found.top_page]} == {theirs}  # same page URL in `mine`
    found = await search.find(
        SearchQuery.of("verify webhook signature -backoff", k=1, collection=mine, page_sections=3)
    )
    assert "Retry policy" not in [r.heading_path[-1] for r in found.top_page]
    both = await search.find(
        SearchQuery.of("webhook signature", k=1, collections=[mine, theirs], page_sections=3)
    )
    assert len({r.collection for r in [*both.results, *both.top_page]}) == 1  # the top result's collection


async def test_none_unless_asked_or_nothing_found(engine, sites):
    mine, _ = sites
    search = DocsSearch(engine)
    assert (await search.find(SearchQuery.of("webhook signature", k=1, collection=mine))).top_page == []
    nothing = await search.find(SearchQuery.of("zeppelin", k=1, collection=mine, page_sections=3))
    assert nothing.results == [] and nothing.top_page == []
