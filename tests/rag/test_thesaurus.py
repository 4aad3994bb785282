"""Query expansion from the reader-terms thesaurus: the documentation's word for the reader's
phrase joins the query, weighing less than the reader's own words."""

from __future__ import annotations

import pytest

import rag.thesaurus as thesaurus
from rag.search import DocsSearch
from rag.thesaurus import MAX_EXPANSIONS, expansion
from tests.support import ingested_pages

BASE = "https://docs.example.test/"
PAGES = {
    "concepts/retries.md": (
        "# Retries\n\nA job that raises an exception is retried up to five times, with exponential "
        "backoff between attempts.\n"
    ),
    "guides/logging.md": "# Logging\n\nEvery job that failed is logged with its traceback and kept for a week.\n",
    "concepts/jobs.md": "# Jobs\n\nA job is a function that a worker process runs.\n",
}
QUESTION = "will the job try again by itself?"


@pytest.fixture(scope="module")
async def site(database, tmp_path_factory):
    return await ingested_pages(database.engine, tmp_path_factory.mktemp("thesaurus"), PAGES, BASE)


async def test_the_docs_word_for_the_readers_phrase_finds_its_page(engine, site, monkeypatch):
    search = DocsSearch(engine)
    assert (await search.search(QUESTION, collection=site))[0].source_path == "concepts/retries.md"

    monkeypatch.setattr("rag.thesaurus.expansion", lambda query: ())
    assert (await search.search(QUESTION, collection=site))[0].source_path == "concepts/jobs.md"


async def test_the_readers_own_words_still_come_first(engine, site):
    # "logged" is the reader's own word, "retry" only the thesaurus's: the page using the
    # reader's word wins.
    results = await DocsSearch(engine).search("is a failed job logged when it tries again", collection=site)
    assert results[0].source_path == "guides/logging.md"


def test_phrases_match_on_stems_and_terms_the_query_uses_are_not_added():
    assert "retry" in expansion("it keeps trying again")
    assert "retry" in expansion("TRIED AGAIN after a minute")
    assert "retry" not in expansion("does it retry and try again")  # the query says "retry" itself
    assert expansion("widgets in a card") == ()


def test_longer_phrases_come_first_and_the_expansion_is_capped(monkeypatch):
    monkeypatch.setattr(
        thesaurus,
        "generic_table",
        lambda: {
            ("log",): ("journal",),
            ("log", "in"): ("login",),
            **{(f"w{i}",): (f"t{i}",) for i in range(20)},
        },
    )
    assert expansion("log in")[0] == "login"
    assert len(expansion(" ".join(f"w{i}" for i in range(20)))) == MAX_EXPANSIONS


def test_every_row_of_the_shipped_thesaurus_is_read():
    table = thesaurus.generic_table()
    assert len(table) > 400
    assert all(phrase and terms for phrase, terms in table.items())
