"""A collection's reader terms in search: a page that uses only the docs' word is found for the
reader's phrase once the row is added, and no longer once it is removed; a tenant's rows reach
only that tenant's searches, a collection's rows only that collection's; a change made by
another process is seen on the next search, and an unchanged scope costs no extra statement."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from rag.reader_terms import add_term, checked_term, remove_term
from rag.reader_vocabulary import GENERIC, merged
from rag.search import DocsSearch, SearchQuery
from rag.thesaurus import generic_table
from tests.docsdesk.cli.test_cli import run_cli
from tests.support import ingested_pages

BASE = "https://docs.example.test/"
PAGES = {
    "endorsements.md": "# Endorsements\n\nA member endorses another member's answer from its menu.\n",
    "feedback.md": "# Feedback\n\nThe feedback widget under each page collects ratings.\n",
    "members.md": "# Members\n\nA member has a profile and a list of answers.\n",
}
KUDOS = "how do I give kudos to someone"


@pytest.fixture
async def sites(engine, tmp_path):
    """Two collections of the same pages."""
    return [await ingested_pages(engine, tmp_path / name, PAGES, BASE) for name in ("a", "b")]


async def pages(search: DocsSearch, query: str, collection: str, tenant: str = "") -> list[str]:
    return [r.source_path for r in await search.search(query, collection=collection, tenant=tenant)]


async def test_a_row_finds_the_page_using_the_docs_word_and_removing_it_undoes_that(engine, sites):
    site, other = sites
    search = DocsSearch(engine)
    assert "endorsements.md" not in await pages(search, KUDOS, site)

    await add_term(engine, site, checked_term("kudos", "endorse"))
    assert (await pages(search, KUDOS, site))[0] == "endorsements.md"
    assert "endorsements.md" not in await pages(search, KUDOS, other)  # another collection's rows

    both = await search.search(KUDOS, collections=[site, other])  # searched together: pooled
    assert both[0].source_path == "endorsements.md"

    assert await remove_term(engine, site, "kudos")
    assert "endorsements.md" not in await pages(search, KUDOS, site)


async def test_a_collection_row_replaces_the_generic_one_for_its_phrase(engine, sites):
    site, other = sites
    search = DocsSearch(engine)
    assert (await pages(search, "thumbs up on an answer", site))[0] == "feedback.md"  # generic row

    await add_term(engine, site, checked_term("thumbs up", "endorse"))
    found = await pages(search, "thumbs up on an answer", site)
    assert found[0] == "endorsements.md" and "feedback.md" not in found
    assert (await pages(search, "thumbs up on an answer", other))[0] == "feedback.md"


async def test_a_tenants_rows_reach_only_its_readers(engine, sites):
    site, _ = sites
    search = DocsSearch(engine)
    await add_term(engine, site, checked_term("kudos", "endorse"), tenant="acme")
    assert (await pages(search, KUDOS, site, tenant="acme"))[0] == "endorsements.md"
    assert "endorsements.md" not in await pages(search, KUDOS, site, tenant="globex")
    assert "endorsements.md" not in await pages(search, KUDOS, site)

    # The collection-wide row reaches every tenant; the tenant's own row wins for its readers.
    await add_term(engine, site, checked_term("kudos", "feedback"))
    assert (await pages(search, KUDOS, site, tenant="globex"))[0] == "feedback.md"
    assert (await pages(search, KUDOS, site, tenant="acme"))[0] == "endorsements.md"


async def test_a_change_by_another_process_is_seen_on_the_next_search(engine, database, sites, tmp_path):
    site, _ = sites
    search = DocsSearch(engine)
    assert "endorsements.md" not in await pages(search, KUDOS, site)  # cached: no rows

    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path)}
    added = run_cli("terms", "add", "kudos", "endorse", "--collection", site, **env)
    assert added.returncode == 0, added.stderr
    assert (await pages(search, KUDOS, site))[0] == "endorsements.md"

    removed = run_cli("terms", "remove", "kudos", "--collection", site, **env)
    assert removed.returncode == 0, removed.stderr
    assert "endorsements.md" not in await pages(search, KUDOS, site)


@contextlib.contextmanager
def statements(engine):
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_a_scope_whose_rows_did_not_change_costs_no_extra_statement(engine, sites):
    site, _ = sites
    search = DocsSearch(engine)
    await search.search(KUDOS, collection=site)
    with statements(engine) as without_rows:
        await search.search(KUDOS, collection=site)

    await add_term(engine, site, checked_term("give kudos", "endorse"))
    with statements(engine) as reloading:
        await search.search(KUDOS, collection=site)
    with statements(engine) as cached:
        await search.search(KUDOS, collection=site)
    assert kinds(without_rows) == kinds(cached) == (0, 1)  # (rows read, lexeme counts)
    assert kinds(reloading) == (1, 2)  # the rows read, the counts again for the new expansion

    await add_term(engine, site, checked_term("nothing asked", "endorse"))
    with statements(engine) as unchanged_expansion:
        await search.search(KUDOS, collection=site)
    assert kinds(unchanged_expansion) == (1, 1)  # the rows read; the expansion is the same
    assert len(unchanged_expansion) == len(cached) + 1


def kinds(seen: list[str]) -> tuple[int, int]:
    """(statements reading the reader terms, statements counting the query's lexemes)."""
    return sum("JOIN docs_reader_terms" in s for s in seen), sum("AS shared_terms" in s for s in seen) - sum(
        "JOIN docs_reader_terms" in s for s in seen
    )


async def test_the_cache_of_scopes_is_bounded(engine, sites):
    search = DocsSearch(engine)
    search.vocabularies.max_scopes = 1
    for site in sites:
        await add_term(engine, site, checked_term("kudos", "endorse"))
        await search.search(KUDOS, collection=site)
    assert len(search.vocabularies._cached) == 1
    assert search.vocabularies.current(SearchQuery.of(KUDOS, collection=sites[0])) is GENERIC
    assert (await pages(search, KUDOS, sites[0]))[0] == "endorsements.md"  # read again


def test_rows_join_the_generic_table_in_layers():
    table = merged([("", "thumbs up", ["endorse"]), ("acme", "Thumb up", ["praise"]), ("", "kudos", ["a"])])
    assert table[("thumb", "up")] == ("praise",) and table[("kudo",)] == ("a",)
    assert table[("time", "limit")] == generic_table()[("time", "limit")]
    assert generic_table()[("thumb", "up")] == ("feedback", "rating")  # the shared table is untouched


async def test_a_word_the_team_maps_is_not_one_the_docs_lack(engine, sites):
    site, other = sites
    search = DocsSearch(engine)
    question = "member kudos for a gizmo"
    assert await search.unknown_words(question, collection=site) == ["kudos", "gizmo"]

    await add_term(engine, site, checked_term("kudos", "endorse"))
    await add_term(engine, other, checked_term("member kudos", "endorse"), tenant="acme")
    await search.search(question, collection=site)  # the scope's rows, as of its search
    assert await search.unknown_words(question, collection=site) == ["gizmo"]
    await search.search(question, collection=other)
    assert await search.unknown_words(question, collection=other) == ["kudos", "gizmo"]  # acme's row only
    await search.search(question, collection=other, tenant="acme")
    assert await search.unknown_words(question, collection=other, tenant="acme") == ["gizmo"]
    not_the_phrase = "kudos for a member"
    assert await search.unknown_words(not_the_phrase, collection=other, tenant="acme") == ["kudos"]
