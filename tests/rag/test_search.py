"""Hybrid search on real PostgreSQL: weighted full-text ranking, the OR variant for questions,
score fusion, the current-page boost, collection filters, pgvector (HNSW) with a deterministic
embedder, embedder changes and mismatches, and the CLI."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from docsdesk.core.database import migrate
from rag.embeddings import EmbedderMismatch
from rag.ingest import ingest
from rag.ranking import MAX_RANKED, Ranked, fuse, nearest_sql, split_query, tsquery_any
from rag.search import PREFER_URL_BOOST, DocsSearch, SearchQuery
from tests.support import REPO, new_id, write_pages

BASE = "https://docs.example.test/"

PAGES = {
    "guides/add-annotations.md": (
        "# Add annotations\n\nAttach citations and sources to assistant messages so readers can "
        "check every claim.\n\n## Inline references\n\nReference an entity inline in the reply.\n"
    ),
    "concepts/widgets.md": (
        "# Widgets\n\nBuild interactive cards, lists and forms that render inside the chat.\n"
    ),
    "guides/theming.md": (
        "# Theming\n\nChange the colour palette, fonts and radius of the chat window. "
        "Cards and widgets follow the palette.\n"
    ),
    "concepts/threads.md": (
        "# Threads\n\nThreads hold the items of a conversation: messages, widgets and tasks.\n"
    ),
    "guides/deploy.md": (
        "# Deploy to production\n\nRun behind a reverse proxy and keep the palette of secrets out of git.\n"
    ),
}


class TrigramEmbedder:
    """Deterministic test embedder: character trigrams hashed into `dimensions` buckets,
    normalised, so typos stay close to the word they miss."""

    def __init__(self, dimensions: int = 64, name: str = "test:trigram") -> None:
        self.name = name
        self.dimensions = dimensions
        self.texts_embedded = 0

    async def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts_embedded += len(texts)
        return [self._vector(t) for t in texts]

    def _vector(self, text_: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in text_.lower().split():
            padded = f"  {word} "
            for i in range(len(padded) - 2):
                digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest()
                vector[int.from_bytes(digest, "big") % self.dimensions] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]


@pytest.fixture(scope="module")
async def site(database, tmp_path_factory):
    """The five pages ingested (full-text only) into a fresh collection."""
    collection = new_id("c")
    root = write_pages(tmp_path_factory.mktemp("site"), PAGES)
    await ingest(database.engine, [root], base_url=BASE, collection=collection)
    return collection, root


async def test_title_and_heading_matches_outrank_body_mentions(engine, site):
    collection, _ = site
    results = await DocsSearch(engine).search("widgets", collection=collection)
    assert results[0].url == BASE + "concepts/widgets/#widgets"
    assert results[0].title == "Widgets"
    assert {r.source_path for r in results} == {
        "concepts/widgets.md",
        "guides/theming.md",
        "concepts/threads.md",
    }
    assert results[0].score > results[1].score


async def test_question_finds_pages_holding_only_some_of_its_words(engine, site):
    collection, _ = site
    question = "how would I quickly attach citations to my answers"
    async with engine.connect() as conn:
        all_terms = await conn.scalar(
            text(
                "SELECT count(*) FROM docs_chunks WHERE collection = :c"
                " AND tsv @@ websearch_to_tsquery('english', :q)"
            ),
            {"c": collection, "q": question},
        )
    assert all_terms == 0  # the AND query alone finds nothing

    results = await DocsSearch(engine).search(question, collection=collection)
    assert results[0].url.startswith(BASE + "guides/add-annotations/")
    assert "**citations**" in results[0].snippet
    assert results[0].heading_path[0] == "Add annotations"


async def test_negated_words_exclude_pages(engine, site):
    collection, _ = site
    search = DocsSearch(engine)
    with_palette = {r.source_path for r in await search.search("palette", collection=collection)}
    assert with_palette == {"guides/theming.md", "guides/deploy.md"}
    assert {r.source_path for r in await search.search("palette -secrets", collection=collection)} == {
        "guides/theming.md"
    }


async def test_empty_and_stop_word_queries(engine, site):
    collection, _ = site
    search = DocsSearch(engine)
    assert await search.search("", collection=collection) == []
    assert await search.search("the of and", collection=collection) == []
    assert await search.search("widgets", k=0, collection=collection) == []
    assert len(await search.search("widgets palette cards", k=2, collection=collection)) == 2


async def test_collection_filter(engine, site, tmp_path):
    collection, root = site
    other = new_id("c")
    await ingest(engine, [root], base_url="https://other.test/", collection=other)
    search = DocsSearch(engine)

    mine = await search.search("theming palette", collection=collection)
    theirs = await search.search("theming palette", collection=other)
    everywhere = await search.search("theming palette", k=50)

    assert mine and {r.collection for r in mine} == {collection}
    assert theirs and {r.collection for r in theirs} == {other}
    assert {collection, other} <= {r.collection for r in everywhere}
    assert theirs[0].url.startswith("https://other.test/")


async def test_the_scope_is_one_value_for_every_statement(engine, site, tmp_path):
    """Several collections, and the same scope for the lexeme counts, the ranked lists, the
    vectors and the unknown words: a third collection's words neither match nor count."""
    collection, root = site
    other, third = new_id("c"), new_id("c")
    await ingest(engine, [root], base_url="https://other.test/", collection=other)
    write_pages(tmp_path / "third", {"zebra.md": "# Zebras\n\nStripes on the zebra palette.\n"})
    await ingest(engine, [tmp_path / "third"], base_url=BASE, collection=third, embedder=TrigramEmbedder(64))
    search = DocsSearch(engine, TrigramEmbedder(64))

    both = await search.search("zebra palette", k=50, collections=[collection, other])
    assert both and {r.collection for r in both} == {collection, other}
    assert await search.unknown_words("zebra palette", collections=[collection, other]) == ["zebra"]
    assert await search.unknown_words("zebra palette", collections=[third]) == []
    assert [r.collection for r in await search.search("zebra", collections=[third])] == [third]
    assert await search.search("palette", collections=[]) == []  # an empty scope holds nothing
    query = SearchQuery.of("palette", collections=[other, collection, other])
    assert query.collections == (other, collection)
    assert [r.chunk_id for r in await search.search(query)] == [
        r.chunk_id for r in await search.search("palette", collections=[other, collection])
    ]
    with pytest.raises(ValueError, match="not both"):
        SearchQuery.of("palette", collection=collection, collections=[other])


async def test_prefer_url_boosts_the_readers_page_when_it_matches(engine, tmp_path):
    collection = new_id("c")
    twins = {
        "a.md": "# Palette A\n\nPick a palette for charts.\n",  # a tie with b: the page decides
        "b.md": "# Palette B\n\nPick a palette for charts.\n",
        "c.md": "# Fonts\n\nPick fonts for charts.\n",
    }
    await ingest(engine, [write_pages(tmp_path, twins)], base_url=BASE, collection=collection)
    search = DocsSearch(engine)

    plain = await search.search("palette", collection=collection)
    boosted = await search.search("palette", collection=collection, prefer_url=BASE + "b?tab=1#palette-b")
    elsewhere = await search.search("palette", collection=collection, prefer_url=BASE + "c/")

    assert [r.source_path for r in plain] == ["a.md", "b.md"]
    assert [r.source_path for r in boosted] == ["b.md", "a.md"]
    assert math.isclose(boosted[0].score, plain[1].score * PREFER_URL_BOOST, rel_tol=1e-9)
    assert [r.source_path for r in elsewhere] == ["a.md", "b.md"]  # c does not match: no boost


async def test_queries_of_only_common_words_look_in_headings(engine, tmp_path):
    collection = new_id("c")
    pages = {
        f"p{n:03}.md": f"# Page {n}\n\nLorem text number {n} about ipsum.\n" for n in range(MAX_RANKED + 60)
    }
    pages["guide.md"] = "# Lorem guide\n\nHow lorem works, with a zebra.\n"
    await ingest(engine, [write_pages(tmp_path, pages)], base_url=BASE, collection=collection)
    search = DocsSearch(engine)
    async with engine.connect() as conn:
        lexemes, stats, _ = await search._lexeme_stats(
            conn, SearchQuery.of("lorem zebra", collection=collection)
        )
    assert lexemes == ["lorem", "zebra"] and stats.common("lorem") and not stats.common("zebra")

    assert (await search.search("lorem", collection=collection))[0].source_path == "guide.md"
    # A rare word leads the any-term list; the common one still counts in the all-terms list.
    assert (await search.search("lorem zebra", collection=collection))[0].source_path == "guide.md"
    # Common words in no heading: some chunks holding them all are ranked.
    assert len(await search.search("ipsum lorem", k=5, collection=collection)) == 5


async def test_unknown_words_are_those_no_chunk_in_scope_holds(engine, site):
    collection, _ = site
    search = DocsSearch(engine)
    question = "How do I attach citations to invoices in euros with a gizmo?"
    assert await search.unknown_words(question, collection=collection) == ["invoices", "euros", "gizmo"]
    assert await search.unknown_words("How do I add it?", collection=collection) == []  # no content words
    assert await search.unknown_words("citations", collection=new_id("none")) == ["citations"]


async def test_an_email_address_is_one_word_for_unknown_words(engine, tmp_path):
    # PostgreSQL reads `king.arthur@camelot.bt` as one e-mail token: the words checked are
    # cut the same way, so an address the docs use is not reported as unknown in pieces.
    collection = new_id("c")
    page = {"users.md": "# Users\n\nLog in as `king.arthur@camelot.bt` with the password.\n"}
    await ingest(engine, [write_pages(tmp_path, page)], base_url=BASE, collection=collection)
    search = DocsSearch(engine)
    question = "King.Arthur@camelot.bt and lancelot@camelot.bt: same user?"
    assert await search.unknown_words(question, collection=collection) == ["lancelot@camelot.bt"]


def test_fuse_weighs_scaled_scores():
    lexical = [Ranked(1, "a", 8.0), Ranked(2, "b", 4.0)]
    semantic = [Ranked(2, "b", 0.9), Ranked(3, "c", 0.5), Ranked(4, "d", 0.1)]
    scores = fuse(lexical, semantic, weight=0.7)
    # 1: best full text, absent by meaning; 2: half the best full text, the most similar.
    assert scores == pytest.approx({1: 0.7, 2: 0.35 + 0.3, 3: 0.3 * 0.5, 4: 0.0})
    assert fuse(lexical, [], weight=0.7) == pytest.approx({1: 1.0, 2: 0.5})  # one list: its own scale
    assert fuse([], semantic) == pytest.approx({2: 1.0, 3: 0.5, 4: 0.0})
    assert fuse([Ranked(5, "e", 0.0)], []) == {5: 1.0}  # no spread: all equal
    assert fuse([], []) == {}


async def test_query_helpers_build_valid_tsqueries(engine):
    assert split_query('add "inline refs" -widgets -"x y"') == ('add "inline refs"', 'widgets or "x y"')
    assert split_query("add-on - plain") == ("add-on - plain", "")
    query = tsquery_any(["it's", "back\\slash", "plain"])
    async with engine.connect() as conn:
        parsed = await conn.scalar(text("SELECT CAST(:q AS tsquery)::text"), {"q": query})
    assert parsed == "'it''s' | 'back\\\\slash' | 'plain'"
    assert tsquery_any([]) is None


async def test_stats(engine, site):
    collection, _ = site
    stats = await DocsSearch(engine).stats()
    assert collection in stats["collections"]
    assert stats["chunks"] >= len(PAGES) and stats["documents"] >= len(PAGES)
    assert stats["vector"] is True and stats["embedder"] is None


# --- pgvector ---------------------------------------------------------------------------


async def test_hybrid_search_finds_a_misspelt_word(engine, tmp_path):
    collection = new_id("c")
    embedder = TrigramEmbedder()
    summary = await ingest(
        engine, [write_pages(tmp_path, PAGES)], base_url=BASE, collection=collection, embedder=embedder
    )
    async with engine.connect() as conn:
        vectors = await conn.scalar(
            text("SELECT count(*) FROM docs_embeddings WHERE collection = :c AND dims = 64"),
            {"c": collection},
        )
        stored = (
            await conn.execute(
                text("SELECT embedder, dimensions FROM docs_collections WHERE name = :c"), {"c": collection}
            )
        ).one()
    assert vectors == summary.chunks
    assert tuple(stored) == ("test:trigram", 64)

    assert await DocsSearch(engine).search("anotations", collection=collection) == []
    results = await DocsSearch(engine, embedder).search("anotations", collection=collection)
    assert results[0].source_path == "guides/add-annotations.md"
    # Both lists agree on an exact word: it ranks first.
    assert (await DocsSearch(engine, embedder).search("theming", collection=collection))[0].title == "Theming"


async def test_vector_query_uses_the_hnsw_index(engine, tmp_path):
    collection = new_id("c")
    await ingest(
        engine,
        [write_pages(tmp_path, PAGES)],
        base_url=BASE,
        collection=collection,
        embedder=TrigramEmbedder(),
    )
    [vector] = await TrigramEmbedder().embed(["palette"])
    async with engine.begin() as conn:
        await conn.execute(
            text("SET LOCAL enable_seqscan = off")
        )  # tiny table: make the planner show its index
        query = SearchQuery.of("palette", collection=collection)
        plan = "\n".join(
            (
                await conn.execute(
                    query.statement("EXPLAIN " + nearest_sql(64, query.scope("e.collection"))),
                    {"vector": str(vector), "depth": 10, **query.binds},
                )
            ).scalars()
        )
    assert "docs_embeddings_hnsw_64" in plan


async def full_text(engine, query: str, collection: str | None) -> list[tuple]:
    return [(r.chunk_id, r.score) for r in await DocsSearch(engine).search(query, collection=collection)]


async def test_another_embedders_vectors_are_never_searched(engine, tmp_path, caplog):
    """A collection embedded by another model (same size or not) is searched full-text only,
    with a warning: its vectors are never compared with this embedder's."""
    collection = new_id("c")
    root = write_pages(tmp_path, PAGES)
    await ingest(engine, [root], base_url=BASE, collection=collection, embedder=TrigramEmbedder(64))
    expected = await full_text(engine, "colour palette", collection)
    hybrid = await DocsSearch(engine, TrigramEmbedder(64)).search("colour palette", collection=collection)
    assert [(r.chunk_id, r.score) for r in hybrid] != expected  # the vectors count when they match

    for other in (TrigramEmbedder(32), TrigramEmbedder(64, name="test:other")):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="docsdesk.search"):
            results = await DocsSearch(engine, other).search("colour palette", collection=collection)
        assert [(r.chunk_id, r.score) for r in results] == expected
        assert "full-text only" in caplog.text and "test:trigram" in caplog.text
    # Unscoped, one collection of another embedder is enough to leave vectors out.
    mixed = await DocsSearch(engine, TrigramEmbedder(64, name="test:other")).search("colour palette")
    assert [(r.chunk_id, r.score) for r in mixed] == await full_text(engine, "colour palette", None)

    (root / "guides/theming.md").write_text("# Theming\n\nA new palette.\n")
    with pytest.raises(EmbedderMismatch, match="64-dimension"):
        await ingest(engine, [root], base_url=BASE, collection=collection, embedder=TrigramEmbedder(32))
    # Nothing was lost: the right embedder still searches the old content.
    results = await DocsSearch(engine, TrigramEmbedder(64)).search("colour palette", collection=collection)
    assert results[0].source_path == "guides/theming.md" and "colour" in results[0].text


async def test_changing_embedder_reembeds_without_rechunking(engine, tmp_path):
    collection = new_id("c")
    root = write_pages(tmp_path, PAGES)
    first = TrigramEmbedder(64, name="test:trigram-a")
    await ingest(engine, [root], base_url=BASE, collection=collection, embedder=first)

    async def chunk_versions() -> list[tuple]:
        async with engine.connect() as conn:
            return (
                await conn.execute(
                    text("SELECT id, xmin::text FROM docs_chunks WHERE collection = :c ORDER BY id"),
                    {"c": collection},
                )
            ).all()

    async def vector_dims() -> list[int]:
        async with engine.connect() as conn:
            return (
                (
                    await conn.execute(
                        text("SELECT DISTINCT dims FROM docs_embeddings WHERE collection = :c"),
                        {"c": collection},
                    )
                )
                .scalars()
                .all()
            )

    chunks = await chunk_versions()
    second = TrigramEmbedder(32, name="test:trigram-b")
    summary = await ingest(engine, [root], base_url=BASE, collection=collection, embedder=second)

    assert (summary.unchanged, summary.reembedded, summary.chunks) == (len(PAGES), len(PAGES), 0)
    assert await chunk_versions() == chunks  # not re-chunked
    assert await vector_dims() == [32]
    assert (await DocsSearch(engine, second).search("anotations", collection=collection))[
        0
    ].title == "Add annotations"
    # The first embedder no longer matches: full text only, never its vectors against the new ones.
    assert [
        (r.chunk_id, r.score)
        for r in await DocsSearch(engine, first).search("anotations", collection=collection)
    ] == await full_text(engine, "anotations", collection)

    again = await ingest(engine, [root], base_url=BASE, collection=collection, embedder=second)
    assert (again.unchanged, again.reembedded) == (len(PAGES), 0)

    dropped = await ingest(engine, [root], base_url=BASE, collection=collection, embedder=None)
    assert dropped.unchanged == len(PAGES)
    assert await vector_dims() == []
    # No vectors left: any embedder searches full-text only.
    assert (await DocsSearch(engine, first).search("theming", collection=collection))[0].title == "Theming"


async def test_changed_file_reuses_vectors_of_unchanged_chunks(engine, tmp_path):
    collection = new_id("c")
    filler = "Plain filler words describe the engine at length. " * 40
    sections = [f"## Part {n}\n\nPart {n} of the manual. {filler}\n" for n in range(4)]
    root = write_pages(tmp_path, {"manual.md": "# Manual\n\n" + "\n".join(sections)})
    embedder = TrigramEmbedder()
    first = await ingest(engine, [root], base_url=BASE, collection=collection, embedder=embedder)
    assert first.chunks >= 3
    embedded = embedder.texts_embedded

    sections[2] = f"## Part 2\n\nPart 2 now covers turbines. {filler}\n"
    (root / "manual.md").write_text("# Manual\n\n" + "\n".join(sections))
    second = await ingest(engine, [root], base_url=BASE, collection=collection, embedder=embedder)

    assert second.changed == 1
    assert embedder.texts_embedded - embedded == 1  # only the edited chunk
    results = await DocsSearch(engine, embedder).search("turbines", collection=collection)
    assert results[0].url.endswith("#part-2")


async def test_without_pgvector_the_schema_works_and_search_is_full_text_only(database, tmp_path, caplog):
    """A role that may not create the (untrusted) vector extension migrates a database of its
    own: no embeddings table, a warning once at startup, full-text search and ingestion."""
    name = new_id("novector").replace("-", "_")
    admin = database.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE ROLE {name} LOGIN"))
        await conn.execute(text(f"CREATE DATABASE {name} OWNER {name}"))
    url = make_url(database.url).set(username=name, database=name).render_as_string(hide_password=False)
    engine = create_async_engine(url)
    try:
        await migrate(url)
        search = DocsSearch(engine, TrigramEmbedder())
        with caplog.at_level(logging.WARNING, logger="docsdesk.search"):
            await search.startup()
            await search.startup()
        assert search.vector is False
        assert caplog.text.count("full-text only") == 1
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT to_regclass('docs_embeddings')")) is None

        summary = await ingest(
            engine,
            [write_pages(tmp_path, PAGES)],
            base_url=BASE,
            collection="docs",
            embedder=TrigramEmbedder(),
        )
        assert summary.added == len(PAGES)
        assert (await search.search("colour palette", collection="docs"))[0].title == "Theming"
        assert (await search.stats())["vector"] is False
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            await conn.execute(text(f"DROP ROLE IF EXISTS {name}"))


# --- CLI and acceptance ------------------------------------------------------------------


async def run_cli(
    database, tmp_path: Path, *args: str, database_url: str | None = None
) -> tuple[int, str, str]:
    """Run the `docsdesk` console script (python -m cli) against the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url or database.url,
        "DOCSDESK_EMBEDDINGS": "none",
        "DOCSDESK_DATA_DIR": str(tmp_path / "data"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "docsdesk",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


async def test_cli_ingest_and_search_json(database, tmp_path):
    collection = new_id("c")
    root = write_pages(tmp_path, PAGES)
    status, out, err = await run_cli(
        database, tmp_path, "ingest", str(root), "--base-url", BASE, "--collection", collection
    )
    assert status == 0, err
    assert "added" in out and "5" in out

    status, out, err = await run_cli(
        database, tmp_path, "search", "theming palette", "-k", "2", "--collection", collection, "--json"
    )
    assert status == 0, err
    results = json.loads(out)
    assert len(results) == 2
    assert set(results[0]) == {"title", "heading_path", "url", "snippet", "score", "collection"}
    assert results[0]["collection"] == collection
    assert results[0]["title"] == "Theming" and results[0]["url"].startswith(BASE + "guides/theming/")
    assert "**palette**" in results[0]["snippet"] and results[0]["score"] > 0

    status, out, err = await run_cli(database, tmp_path, "search", "theming", "--collection", collection)
    assert status == 0 and "Theming" in out and BASE + "guides/theming/" in out


async def test_cli_reports_an_unreachable_database_in_one_line(database, tmp_path):
    status, out, err = await run_cli(
        database, tmp_path, "search", "anything", database_url=f"postgresql://nobody@/none?host={tmp_path}"
    )
    assert status == 1
    assert err.strip().count("\n") == 0 and err.startswith("docsdesk: error: cannot reach the database")
