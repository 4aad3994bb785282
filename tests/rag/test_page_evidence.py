"""Page-level evidence on real PostgreSQL: a page whose sections together hold the reader's
words outranks a page with one matching section; the counts per page; the scoring helpers."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

import rag.page_evidence as page_evidence
from rag.ingest import ingest
from rag.page_evidence import best_pages, page_evidence_sql, page_scores, with_page_scores
from rag.search import DocsSearch
from tests.support import ingested_pages, new_id, write_pages

BASE = "https://docs.example.test/"

PAGES = {
    # The reader's words are spread over this page's title, headings and sections ...
    "strategies/redis.md": (
        "# Redis strategy\n\nStore access tokens in Redis, with an expiry.\n\n"
        "## Configuration\n\nCreate the client with decode_responses so values come back as strings, not bytes.\n\n"
        "## Logout\n\nLogging out deletes the token from Redis.\n"
    ),
    # ... while this overview's one section holds most of them at once.
    "authentication.md": (
        "# Authentication\n\nA backend is a transport and a strategy.\n\n"
        "## Strategies\n\nThe redis strategy keeps tokens in Redis: after logout, no token comes back.\n\n"
        "## Transports\n\nBearer and cookie transports.\n"
    ),
    "install.md": "# Installation\n\nInstall with pip.\n",
}
QUESTION = "redis strategy tokens come back as bytes after logout"


@pytest.fixture(scope="module")
async def pages_site(database, tmp_path_factory):
    return await ingested_pages(database.engine, tmp_path_factory.mktemp("pages"), PAGES, BASE)


async def test_a_page_holding_the_words_across_sections_ranks_first(engine, pages_site, monkeypatch):
    search = DocsSearch(engine)
    results = await search.search(QUESTION, collection=pages_site)
    assert results[0].source_path == "strategies/redis.md"
    assert all(0 <= r.score <= 1 for r in results)

    monkeypatch.setattr(page_evidence, "PAGE_WEIGHT", 0.0)  # without the pages' evidence
    chunks_only = await search.search(QUESTION, collection=pages_site)
    assert chunks_only[0].source_path == "authentication.md"


async def test_sections_holding_each_term_are_counted_per_page(engine, pages_site):
    async with engine.connect() as conn:
        ids = (
            await conn.execute(
                text("SELECT min(id) FROM docs_chunks WHERE collection = :c GROUP BY page_url"),
                {"c": pages_site},
            )
        ).scalars()
        rows = (
            await conn.execute(
                text(page_evidence_sql(2)), {"ids": list(ids), "term0": "'redi'", "term1": "'byte'"}
            )
        ).all()
    counts = {row.page_url.removeprefix(BASE): (row.sections, row.t0, row.t1) for row in rows}
    # Every section of the Redis page holds "redis" (its title is in each section's headings).
    assert counts == {"strategies/redis/": (3, 3, 1), "authentication/": (3, 1, 0), "install/": (1, 0, 0)}


def test_page_scores_saturate_and_weigh_by_idf():
    rows = [("a", 4, 4, 0), ("b", 4, 1, 0), ("c", 4, 0, 1)]
    scores = page_scores(rows, [1.0, 3.0])
    assert scores["a"] > scores["b"] > 0
    assert scores["a"] < 4 * scores["b"]  # four sections are not worth four times one
    assert scores["c"] > scores["b"]  # a rare word weighs more than a common one
    assert page_scores([], [1.0]) == {}


def test_longer_pages_need_more_sections_for_the_same_score():
    scores = page_scores([("short", 2, 1), ("long", 20, 1)], [1.0])
    assert scores["short"] > scores["long"]


def test_best_pages_keep_each_pages_best_chunk_in_order():
    scores = {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.95}
    pages = {1: "a", 2: "b", 3: "a", 4: "c"}
    assert best_pages(scores, pages) == {"c": 4, "a": 1, "b": 2}
    assert best_pages(scores, pages, limit=2) == {"c": 4, "a": 1}


def test_page_evidence_is_added_and_rescaled():
    scores = {1: 1.0, 2: 0.9}
    pages = {1: "a", 2: "b"}
    mixed = with_page_scores(scores, pages, {"a": 0.5, "b": 2.0}, weight=0.3)
    assert math.isclose(mixed[1], (1.0 + 0.3 * 0.25) / 1.3)
    assert math.isclose(mixed[2], (0.9 + 0.3) / 1.3)
    assert mixed[2] > mixed[1]
    assert with_page_scores(scores, pages, {}) == scores


async def test_a_pages_sections_are_counted_in_its_own_collection_only(engine, pages_site, tmp_path):
    # Another collection holds a page at the same URL with more sections holding the word.
    other = new_id("c")
    bigger = {
        "install.md": "# Installation\n\n" + "".join(f"## Redis {n}\n\nRedis {n}.\n\n" for n in range(4))
    }
    await ingest(engine, [write_pages(tmp_path, bigger)], base_url=BASE, collection=other)
    async with engine.connect() as conn:
        ids = (
            await conn.execute(
                text("SELECT min(id) FROM docs_chunks WHERE collection = :c AND page_url = :u"),
                {"c": pages_site, "u": BASE + "install/"},
            )
        ).scalars()
        rows = (await conn.execute(text(page_evidence_sql(1)), {"ids": list(ids), "term0": "'redi'"})).all()
    assert [(row.sections, row.t0) for row in rows] == [(1, 0)]


SIGNPOSTS = {
    # An overview whose sections summarise other pages, each under that page's title ...
    "auth/index.md": (
        "# Authentication\n\nA backend pairs a transport with a strategy.\n\n"
        "## Redis\n\nThe Redis strategy keeps tokens in Redis, so a token can be revoked at once.\n\n"
        "## Database\n\nThe database strategy stores tokens in a table.\n"
    ),
    # ... and the page the reader needs, which says more.
    "auth/redis.md": (
        "# Redis\n\nThe Redis strategy stores access tokens in Redis.\n\n"
        "## Logout\n\nLogging out deletes the token Redis keeps.\n"
    ),
    "auth/database.md": "# Database\n\nAccess tokens in a table of your database.\n",
}
SIGNPOST_QUESTION = "where does the redis strategy keep tokens"


@pytest.fixture(scope="module")
async def signpost_site(database, tmp_path_factory):
    return await ingested_pages(database.engine, tmp_path_factory.mktemp("signposts"), SIGNPOSTS, BASE)


async def test_a_signpost_section_yields_to_the_page_it_points_at(engine, signpost_site, monkeypatch):
    search = DocsSearch(engine)
    results = await search.search(SIGNPOST_QUESTION, collection=signpost_site)
    assert results[0].source_path == "auth/redis.md"
    assert "auth/index.md" in {r.source_path for r in results}  # still found

    monkeypatch.setattr(page_evidence, "SIGNPOST_FACTOR", 1.0)  # without the signposts yielding
    plain = await search.search(SIGNPOST_QUESTION, collection=signpost_site)
    assert plain[0].source_path == "auth/index.md"


async def test_signposts_are_the_sections_headed_with_another_pages_title(engine, signpost_site):
    async with engine.connect() as conn:
        ids = (
            await conn.execute(
                text("SELECT min(id) FROM docs_chunks WHERE collection = :c GROUP BY page_url"),
                {"c": signpost_site},
            )
        ).scalars()
        checked = (
            await conn.execute(text("SELECT id FROM docs_chunks WHERE collection = :c"), {"c": signpost_site})
        ).scalars()
        values = {"ids": list(ids), "checked": list(checked), "term0": "'redi'"}
        rows = (await conn.execute(text(page_evidence_sql(1, signposts=True)), values)).all()
        headings = dict(
            (
                await conn.execute(
                    text("SELECT id, heading_path FROM docs_chunks WHERE collection = :c"),
                    {"c": signpost_site},
                )
            ).all()
        )
    signposts = {
        row.page_url.removeprefix(BASE): sorted(headings[i][-1] for i in row.signposts or ()) for row in rows
    }
    # The overview's "Redis" and "Database" sections; not a page's own title section.
    assert signposts == {"auth/": ["Database", "Redis"], "auth/redis/": [], "auth/database/": []}


def test_signposts_scores_are_multiplied():
    Row = type("Row", (), {})
    row = Row()
    row.signposts = [2]
    assert page_evidence.signposted({1: 1.0, 2: 1.0}, [row], 0.5) == {1: 1.0, 2: 0.5}
