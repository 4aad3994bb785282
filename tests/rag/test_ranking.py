"""Ranking behaviours on real PostgreSQL: identifiers match their parts and their whole,
question words do not dominate, headings outweigh body mentions, the reader's page only
breaks ties, snippets keep literal `<text>`, and one search never waits for a second pooled
connection while holding one (issue #12, defect 1)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text

from docsdesk.core.database import create_engine
from docsdesk.core.terms import identifier_terms, query_text
from rag.ingest import ingest
from rag.ranking import (
    FIELD_WEIGHTS,
    PLAIN_FIELD_WEIGHTS,
    FullTextPlan,
    diversified,
    everyday_words,
    full_text_sql,
    path_words,
)
from rag.search import DocsSearch, SearchQuery
from tests.rag.test_search import PAGES, TrigramEmbedder
from tests.support import ingested_pages, new_id, write_pages

BASE = "https://docs.example.test/"

RANKING_PAGES = {
    "config.md": (
        "# Configuring the SDK\n\n## API keys\n\nCall `set_default_openai_key()` once at start-up "
        "to set the key the SDK uses.\n\n## Tracing\n\nTracing is on by default; the exporter sends "
        "spans in batches.\n"
    ),
    "keys.md": (
        "# Keys and defaults\n\nA default is a value used when none is given. Keys are strings; "
        "set them in the environment. Many settings have a default and a key.\n"
    ),
    "server.md": ("# The server class\n\nSubclass `ChatKitServer` and implement `respond()`.\n"),
    "chat.md": ("# Chat widgets\n\nThe chat window shows a kit of widgets. A server renders them.\n"),
    "runner.md": ("# Running agents\n\nUse `Runner.run_streamed()` to stream events while the agent runs.\n"),
    "streams.md": ("# Streams\n\nA stream is a sequence of events. Streamed events arrive in order.\n"),
    "feedback.md": ("# Feedback\n\nHandle thumbs-down feedback on answers in the `add_feedback` method.\n"),
    "annotations.md": (
        "# Annotations\n\nAttach sources to answers so readers can check them. Annotations cite the "
        "page and the section.\n"
    ),
    "models.md": ("# Models\n\nModels are named `openai:<model>`; wrap details in `<details>` blocks.\n"),
}


@pytest.fixture(scope="module")
async def ranked_site(database, tmp_path_factory):
    return await ingested_pages(database.engine, tmp_path_factory.mktemp("ranking"), RANKING_PAGES, BASE)


def test_identifier_terms_give_parts_and_whole() -> None:
    terms = identifier_terms("set_default_openai_key ChatKitServer Runner.run_streamed plain words").split()
    assert {"set", "default", "openai", "key", "setdefaultopenaikey"} <= set(terms)
    assert {"chat", "kit", "server", "chatkit", "chatkitserver"} <= set(terms)
    assert {"runner", "run", "streamed", "runstreamed", "runnerrunstreamed"} <= set(terms)
    assert "plain" not in terms and "words" not in terms
    assert query_text("How do I set the key?").split()[:3] == ["set", "the", "key?"]
    assert query_text("how") == "how"  # nothing left: the question stays as it is


def test_contractions_leave_no_one_letter_words() -> None:
    # "I'm" would leave the lexeme "m", rare and so weighty: contractions of question and stop
    # words go, a possessive keeps its word.
    assert query_text("What's up while I'm developing? Don't! You'll see").split() == [
        "up",
        "while",
        "developing?",
        "!",
        "see",
    ]
    assert query_text("the agent's tools").split() == ["the", "agent", "tools"]


async def _first(search, query, collection, **kw) -> str:
    results = await search.search(query, collection=collection, **kw)
    assert results, query
    return results[0].source_path


async def test_identifiers_match_whole_and_parts(engine, ranked_site):
    search = DocsSearch(engine)
    # The whole identifier beats a page full of its common parts ("default", "key").
    assert await _first(search, "set_default_openai_key", ranked_site) == "config.md"
    assert await _first(search, "setdefaultopenaikey", ranked_site) == "config.md"
    # camelCase: the whole, and its parts written apart.
    assert await _first(search, "ChatKitServer", ranked_site) == "server.md"
    assert await _first(search, "chatkit server subclass", ranked_site) == "server.md"
    # Dotted names: the whole and the method alone.
    assert await _first(search, "Runner.run_streamed", ranked_site) == "runner.md"
    assert await _first(search, "run_streamed", ranked_site) == "runner.md"


async def test_question_words_do_not_dominate(engine, ranked_site):
    search = DocsSearch(engine)
    assert await _first(search, "How do I handle thumbs-down feedback?", ranked_site) == "feedback.md"
    assert (
        await _first(search, "What is the way to show the sources of an answer?", ranked_site)
        == "annotations.md"
    )
    assert await _first(search, "where can I see how tracing exports spans", ranked_site) == "config.md"


async def test_page_context_breaks_ties_but_the_question_leads(engine, ranked_site):
    search = DocsSearch(engine)
    on_annotations = BASE + "annotations/"
    # A question about another topic gets that topic's page, even on the annotations page.
    assert (
        await _first(
            search, "And how do I handle thumbs-down feedback?", ranked_site, prefer_url=on_annotations
        )
        == "feedback.md"
    )
    # A question that fits several pages equally goes to the reader's page.
    twins = await search.search("answers", collection=ranked_site)
    assert {r.source_path for r in twins[:2]} == {"feedback.md", "annotations.md"}
    for page in ("feedback", "annotations"):
        assert await _first(search, "answers", ranked_site, prefer_url=BASE + page + "/") == page + ".md"


async def test_rarity_is_counted_in_the_collection_searched(engine, tmp_path):
    # "quasar" fills another collection; here it is as rare as "nebula": only the heading decides.
    here, elsewhere = new_id("c"), new_id("c")
    pages = {"a.md": "# Quasar\n\nA nebula is near.\n", "b.md": "# Nebula\n\nA quasar is near.\n"}
    filler = {f"f{n}.md": f"# Filler {n}\n\nQuasar quasar {n}.\n" for n in range(30)}
    await ingest(engine, [write_pages(tmp_path / "here", pages)], base_url=BASE, collection=here)
    await ingest(engine, [write_pages(tmp_path / "elsewhere", filler)], base_url=BASE, collection=elsewhere)
    search = DocsSearch(engine)
    async with engine.connect() as conn:
        _, scoped, _ = await search._lexeme_stats(conn, SearchQuery.of("quasar nebula", collection=here))
        _, everywhere, _ = await search._lexeme_stats(conn, SearchQuery.of("quasar nebula"))
    assert scoped.chunks == 2 and scoped.df("quasar") == scoped.df("nebula") == 2
    assert everywhere.df("quasar") >= 32 and everywhere.idf("quasar") < everywhere.idf(
        "nebula"
    )  # other tests add theirs
    results = await search.search("quasar nebula", collection=here)
    assert results[0].score == pytest.approx(results[1].score, rel=0.2)


async def test_one_page_does_not_fill_the_top(engine, tmp_path):
    collection = new_id("c")
    long_page = "# Tokens\n\n" + "".join(
        f"## Token part {n}\n\nTokens counted, part {n}. {'Filler words here. ' * 60}\n\n" for n in range(5)
    )
    pages = {
        "long.md": long_page,
        "usage.md": "# Usage\n\nTokens used by a run.\n",
        "other.md": "# Other\n\nSome tokens.\n",
    }
    await ingest(engine, [write_pages(tmp_path, pages)], base_url=BASE, collection=collection)
    results = await DocsSearch(engine).search("tokens counted", k=4, collection=collection)
    assert [r.source_path for r in results].count("long.md") == 2  # its further parts come later
    everything = await DocsSearch(engine).search("tokens counted", k=20, collection=collection)
    assert [r.source_path for r in everything].count("long.md") == 5  # nothing is dropped
    assert [r.source_path for r in everything][-3:] == ["long.md"] * 3


def test_path_words_are_a_routes_segments() -> None:
    assert path_words("POST to /auth/jwt/login gives 422") == "auth jwt login"
    assert path_words("GET /users/{id}/items or /docs") == "users {id} items"  # one segment: no split
    assert path_words("a/b and https://x.test/a/b") == ""  # neither starts a route


async def test_a_route_finds_the_page_giving_its_prefix_and_path_apart(engine, tmp_path):
    collection = new_id("c")
    pages = {
        "register.md": '# Register router\n\nInclude it with `prefix="/auth"`: it adds the `/register` route.\n',
        "other.md": "# Other\n\nEvery endpoint of the app.\n",
    }
    await ingest(engine, [write_pages(tmp_path, pages)], base_url=BASE, collection=collection)
    results = await DocsSearch(engine).search(
        "where does the /auth/register endpoint come from", collection=collection
    )
    assert results[0].source_path == "register.md"


def test_diversified_moves_a_pages_further_chunks_after_the_others() -> None:
    pages = {1: "u/a#x", 2: "u/a#y", 3: "u/a/#z", 4: "u/b", 5: "u/a?q#w", 6: "u/c"}
    assert diversified([1, 2, 3, 4, 5, 6], pages) == [1, 2, 4, 6, 3, 5]
    assert diversified([1, 4, 2, 6], pages, per_page=1) == [1, 4, 6, 2]


async def test_snippets_keep_literal_angle_bracket_text(engine, ranked_site):
    [result] = await DocsSearch(engine).search("models named openai", collection=ranked_site, k=1)
    assert "openai:<model>" in result.snippet.replace("**", "")
    assert "<details>" in result.snippet.replace("**", "")


class SlowEmbedder(TrigramEmbedder):
    async def embed(self, texts):
        await asyncio.sleep(0.005)
        return await super().embed(texts)


async def test_concurrent_searches_never_wait_for_a_second_connection(database, settings, tmp_path):
    """With two pooled connections and no overflow, 40 concurrent hybrid searches complete:
    each search holds one connection at a time (it used to take a second for the lexeme
    statistics and a third for the vector list while holding the first, and deadlocked)."""
    embedder = SlowEmbedder()
    collection = new_id("c")
    await ingest(
        database.engine,
        [write_pages(tmp_path, PAGES)],
        base_url=BASE,
        collection=collection,
        embedder=embedder,
    )
    small = create_engine(
        database.url,
        settings.model_copy(update={"db_pool_size": 2, "db_max_overflow": 0, "db_pool_timeout_seconds": 5}),
    )
    try:
        search = DocsSearch(small, embedder)
        await search.startup()
        assert search.vector
        queries = ["palette", "threads items", "deploy proxy", "widgets cards", "annotations citations"] * 8
        results = await asyncio.wait_for(
            asyncio.gather(*(search.search(q, collection=collection) for q in queries)), timeout=60
        )
        assert all(results)
        async with small.connect() as conn:
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await small.dispose()
    # With the default pool (10 + 10 overflow), 64 concurrent searches all complete.
    default = create_engine(database.url, settings.model_copy(update={"db_pool_timeout_seconds": 10}))
    try:
        assert default.pool.size() == settings.db_pool_size == 10
        search = DocsSearch(default, embedder)
        results = await asyncio.wait_for(
            asyncio.gather(*(search.search(q, collection=collection) for q in queries + queries[:24])),
            timeout=90,
        )
        assert len(results) == 64 and all(results)
    finally:
        await default.dispose()


async def test_cli_snippets_keep_literal_angle_bracket_text(database, tmp_path):
    from tests.rag.test_search import run_cli

    collection = new_id("c")
    await ingest(
        database.engine, [write_pages(tmp_path / "site", RANKING_PAGES)], base_url=BASE, collection=collection
    )
    status, out, err = await run_cli(
        database, tmp_path, "search", "models named openai", "-k", "1", "--collection", collection
    )
    assert status == 0, err
    assert "openai:<model>" in out and "<details>" in out  # printed literally, not read as markup
    status, out, err = await run_cli(
        database, tmp_path, "search", "models named openai", "-k", "1", "--collection", collection, "--json"
    )
    assert status == 0, err
    assert "openai:<model>" in json.loads(out)[0]["snippet"].replace("**", "")


async def test_an_everyday_word_in_a_heading_counts_as_in_the_text(engine, tmp_path, monkeypatch):
    # Each page holds "first" and "widget" once, one in its title: the title naming the widget
    # wins, the one whose "first" is an everyday word ("First steps") does not.
    collection = new_id("c")
    pages = {
        "first.md": "# First steps\n\nConfigure the widget here.\n",
        "widget.md": "# Widget\n\nIt ships in the first release.\n",
    }
    await ingest(engine, [write_pages(tmp_path, pages)], base_url=BASE, collection=collection)
    assert {"first", "answer", "still"} <= everyday_words() and "widget" not in everyday_words()
    results = await DocsSearch(engine).search("first widget", collection=collection)
    assert [r.source_path for r in results] == ["widget.md", "first.md"]
    assert results[0].score > results[1].score * 1.05
    monkeypatch.setattr("rag.search.everyday_words", lambda: frozenset())
    results = await DocsSearch(engine).search("first widget", collection=collection)
    assert results[0].score == pytest.approx(results[1].score)  # without it, both headings count double


def test_only_the_everyday_words_score_their_headings_as_text() -> None:
    plan = FullTextPlan(
        highlight="'first' | 'widget'",
        any="'widget'",
        terms=("'first'", "'widget'"),
        idf=(1.0, 1.0),
        selective=True,
        plain=(True, False),
    )
    assert plan.binds["weights0"] == list(PLAIN_FIELD_WEIGHTS) and plan.binds["weights1"] == list(
        FIELD_WEIGHTS
    )
    assert PLAIN_FIELD_WEIGHTS[3] == PLAIN_FIELD_WEIGHTS[2] < FIELD_WEIGHTS[3]  # heading as text
    sql = full_text_sql(plan, "tsv", scope="", negated=False)
    assert "ts_rank(CAST(:weights0 AS float4[])" in sql and "ts_rank(CAST(:weights1 AS float4[])" in sql
