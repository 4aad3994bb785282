"""Incremental ingestion on real PostgreSQL: skip unchanged, re-chunk changed, delete removed,
and swap each file's chunks in one transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from docsdesk.core.locks import session_lock
from rag.collections import remove_collection
from rag.ingest import IngestError, collection_document_count, ingest
from rag.search import DocsSearch
from tests.support import new_id, write_pages

BASE = "https://docs.example.test/"

PAGES = {
    "index.md": "# Welcome\n\nStart here to learn about the gizmo toolkit.\n",
    "guides/install.md": "# Install\n\nInstall the gizmo with pip.\n\n## Upgrade\n\nUpgrade the gizmo regularly.\n",
    "guides/configure.md": "# Configure\n\nSet the flux capacitor level.\n\n## Logging\n\nTurn on verbose logging.\n",
    "reference/api.md": "# API\n\nThe frobnicate call returns a widget.\n",
}


async def rows(engine, collection: str) -> dict[str, dict]:
    """Each document of `collection` by source path, with its row versions (xmin) and chunks."""
    async with engine.connect() as conn:
        docs = (
            (
                await conn.execute(
                    text(
                        "SELECT id, source_path, page_url, content_hash, xmin::text AS xmin FROM docs_documents"
                        " WHERE collection = :c"
                    ),
                    {"c": collection},
                )
            )
            .mappings()
            .all()
        )
        chunks = (
            (
                await conn.execute(
                    text(
                        "SELECT document_id, id, url, text, xmin::text AS xmin FROM docs_chunks"
                        " WHERE collection = :c ORDER BY document_id, ordinal"
                    ),
                    {"c": collection},
                )
            )
            .mappings()
            .all()
        )
    out = {d["source_path"]: {**d, "chunks": []} for d in docs}
    by_id = {d["id"]: d["source_path"] for d in docs}
    for chunk in chunks:
        out[by_id[chunk["document_id"]]]["chunks"].append(dict(chunk))
    return out


async def test_first_ingest_indexes_every_page_with_urls(engine, tmp_path):
    collection = new_id("c")
    docs = write_pages(tmp_path / "docs", PAGES)
    (docs / "node_modules" / "x").mkdir(parents=True)
    (docs / "node_modules" / "x" / "readme.md").write_text("# Vendored\n")
    (docs / ".hidden").mkdir()
    (docs / ".hidden" / "secret.md").write_text("# Secret\n")
    (docs / "site").mkdir()
    (docs / "site" / "built.html").write_text("<h1>Built</h1>")
    (docs / "notes.txt").write_text("not documentation")

    summary = await ingest(engine, [docs], base_url=BASE, collection=collection)

    assert (summary.added, summary.changed, summary.removed, summary.unchanged) == (4, 0, 0, 0)
    assert summary.bytes == sum(len(body.encode()) for body in PAGES.values())
    stored = await rows(engine, collection)
    assert set(stored) == set(PAGES)
    assert summary.chunks == sum(len(d["chunks"]) for d in stored.values())
    assert stored["guides/install.md"]["page_url"] == BASE + "guides/install/"
    assert all(c["url"].startswith(BASE + "guides/install/#") for c in stored["guides/install.md"]["chunks"])
    assert await collection_document_count(engine, collection) == 4


async def test_unchanged_rerun_writes_nothing(engine, tmp_path):
    collection = new_id("c")
    docs = write_pages(tmp_path / "docs", PAGES)
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    before = await rows(engine, collection)
    async with engine.connect() as conn:
        collection_xmin = await conn.scalar(
            text("SELECT xmin::text FROM docs_collections WHERE name = :c"), {"c": collection}
        )

    summary = await ingest(engine, [docs], base_url=BASE, collection=collection)

    assert (summary.added, summary.changed, summary.removed, summary.unchanged, summary.chunks) == (
        0,
        0,
        0,
        4,
        0,
    )
    assert await rows(engine, collection) == before  # same rows, same versions (xmin)
    async with engine.connect() as conn:
        assert collection_xmin == await conn.scalar(
            text("SELECT xmin::text FROM docs_collections WHERE name = :c"), {"c": collection}
        )


async def test_url_settings_are_part_of_the_fingerprint(engine, tmp_path):
    collection = new_id("c")
    docs = write_pages(tmp_path / "docs", PAGES)
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    summary = await ingest(engine, [docs], base_url="https://elsewhere.test/", collection=collection)
    assert summary.changed == 4
    stored = await rows(engine, collection)
    assert stored["reference/api.md"]["page_url"] == "https://elsewhere.test/reference/api/"


async def test_edited_deleted_and_renamed_files(engine, tmp_path):
    collection = new_id("c")
    docs = write_pages(tmp_path / "docs", PAGES)
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    before = await rows(engine, collection)

    (docs / "guides/configure.md").write_text("# Configure\n\nSet the warp drive level.\n")
    (docs / "index.md").unlink()
    (docs / "reference/api.md").rename(docs / "reference/interface.md")
    summary = await ingest(engine, [docs], base_url=BASE, collection=collection)

    assert (summary.added, summary.changed, summary.removed, summary.unchanged) == (1, 1, 2, 1)
    after = await rows(engine, collection)
    assert set(after) == {"guides/install.md", "guides/configure.md", "reference/interface.md"}
    assert after["guides/install.md"] == before["guides/install.md"]  # untouched
    configure = " ".join(c["text"] for c in after["guides/configure.md"]["chunks"])
    assert "warp drive" in configure and "flux capacitor" not in configure
    assert after["guides/configure.md"]["id"] == before["guides/configure.md"]["id"]
    assert after["reference/interface.md"]["page_url"] == BASE + "reference/interface/"
    async with engine.connect() as conn:
        orphans = await conn.scalar(
            text("SELECT count(*) FROM docs_chunks WHERE document_id = ANY(:ids)"),
            {"ids": [before["index.md"]["id"], before["reference/api.md"]["id"]]},
        )
    assert orphans == 0
    search = DocsSearch(engine)
    assert [r.source_path for r in await search.search("frobnicate", collection=collection)] == [
        "reference/interface.md"
    ]
    assert await search.search("flux capacitor", collection=collection) == []


async def test_single_file_path_keeps_the_rest_of_its_folder(engine, tmp_path):
    collection = new_id("c")
    docs = write_pages(tmp_path / "docs", PAGES)
    await ingest(engine, [docs / "guides"], base_url=BASE + "guides/", collection=collection)
    summary = await ingest(
        engine, [docs / "guides" / "install.md"], base_url=BASE + "guides/", collection=collection
    )
    assert (summary.unchanged, summary.removed) == (1, 0)
    assert set(await rows(engine, collection)) == {"install.md", "configure.md"}


async def test_bad_input_gets_a_clear_error_and_loses_nothing(engine, tmp_path):
    collection = new_id("c")
    docs = write_pages(tmp_path / "docs", PAGES)
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    before = await rows(engine, collection)

    with pytest.raises(IngestError, match="no such file"):
        await ingest(engine, [docs, tmp_path / "missing"], base_url=BASE, collection=collection)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(IngestError, match="not a documentation file"):
        await ingest(engine, [tmp_path / "notes.txt"], base_url=BASE, collection=collection)
    with pytest.raises(IngestError, match="url style"):
        await ingest(engine, [docs], base_url=BASE, collection=collection, url_style="hugo")
    with pytest.raises(IngestError, match="at least one path"):
        await ingest(engine, [], base_url=BASE, collection=collection)
    assert await rows(engine, collection) == before

    # Undecodable bytes and NUL characters do not stop the run.
    (docs / "latin1.md").write_bytes("# Caf\xe9\n\nCaf\xe9 cr\xe8me \x00 ok.\n".encode("latin-1"))
    summary = await ingest(engine, [docs], base_url=BASE, collection=collection)
    assert (summary.added, summary.unchanged) == (1, 4)
    text_ = " ".join(c["text"] for c in (await rows(engine, collection))["latin1.md"]["chunks"])
    assert "\ufffd" in text_ and "\x00" not in text_


async def test_one_ingest_per_collection_at_a_time(engine, tmp_path):
    collection = new_id("c")
    docs = write_pages(tmp_path / "docs", PAGES)
    async with session_lock(engine, f"docsdesk.ingest:{collection}") as held:
        assert held is not None
        with pytest.raises(IngestError, match="another ingest"):
            await ingest(engine, [docs], base_url=BASE, collection=collection)
    assert (await ingest(engine, [docs], base_url=BASE, collection=collection)).added == 4


@pytest.fixture
async def chunk_trigger(engine):
    """Install a trigger on docs_chunks running `body` (plpgsql) for rows of one collection."""
    installed: list[str] = []

    async def install(collection: str, body: str) -> None:
        name = f"test_{collection.replace('-', '_')}"
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.collection = '{collection}' THEN {body} END IF; RETURN NEW; END $$"
                )
            )
            await conn.execute(
                text(
                    f"CREATE TRIGGER {name} BEFORE INSERT ON docs_chunks FOR EACH ROW EXECUTE FUNCTION {name}()"
                )
            )
        installed.append(name)

    yield install
    async with engine.begin() as conn:
        for name in installed:
            await conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON docs_chunks"))
            await conn.execute(text(f"DROP FUNCTION IF EXISTS {name}()"))


def versioned_page(version: str, sections: int = 6) -> str:
    """A page of `sections` chunks (each section is big enough to be a chunk of its own)."""
    body = [f"# Release notes\n\nRelease {version} of the quasar engine.\n"]
    filler = "Plain filler words describe the engine at length. " * 40
    for n in range(sections):
        body.append(f"\n## Section {n}\n\nThe quasar engine {version} marker section {n}. {filler}\n")
    return "".join(body)


async def test_failed_swap_keeps_all_old_chunks(engine, tmp_path, chunk_trigger):
    collection = new_id("c")
    docs = write_pages(
        tmp_path / "docs", {"notes.md": versioned_page("alpha"), "other.md": "# Other\n\nText.\n"}
    )
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    before = await rows(engine, collection)
    assert len(before["notes.md"]["chunks"]) > 3

    # The insert of the new version fails on its 4th chunk, after earlier chunks went in.
    await chunk_trigger(
        collection, "IF NEW.ordinal >= 3 AND NEW.text LIKE '%beta%' THEN RAISE EXCEPTION 'disk full'; END IF;"
    )
    (docs / "notes.md").write_text(versioned_page("beta"))
    with pytest.raises(Exception, match="disk full"):
        await ingest(engine, [docs], base_url=BASE, collection=collection)

    assert await rows(engine, collection) == before  # old chunks, old hash: retried next run
    results = await DocsSearch(engine).search("quasar engine marker", k=20, collection=collection)
    assert len(results) == len(before["notes.md"]["chunks"])
    assert all(" alpha " in r.text and " beta " not in r.text for r in results)


async def test_concurrent_search_never_sees_half_a_file(engine, tmp_path, chunk_trigger):
    collection = new_id("c")
    docs = write_pages(tmp_path / "docs", {"notes.md": versioned_page("alpha", sections=8)})
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    count = len((await rows(engine, collection))["notes.md"]["chunks"])
    # Slow inserts (20 ms a chunk) keep the swap open while searches run.
    await chunk_trigger(collection, "PERFORM pg_sleep(0.02);")
    search = DocsSearch(engine)
    seen: list[list[str]] = []

    async def reader(done: asyncio.Event) -> None:
        while not done.is_set():
            results = await search.search("quasar engine marker section", k=50, collection=collection)
            seen.append([v for r in results for v in ("alpha", "beta") if f" {v} " in r.text])
            await asyncio.sleep(0.005)

    done = asyncio.Event()
    task = asyncio.create_task(reader(done))
    (docs / "notes.md").write_text(versioned_page("beta", sections=8))
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    done.set()
    await task
    assert len(seen) > 3
    # Every search saw the whole file, in one version: never half of it, never a mix.
    odd = [versions for versions in seen if versions not in (["alpha"] * count, ["beta"] * count)]
    assert not odd, (count, odd)
    assert ["alpha"] * count in seen


async def lexeme_counts(engine, collection: str) -> tuple[dict[str, int], dict[str, int]]:
    """(the maintained counts of `collection`, the counts recomputed from its chunks)."""
    async with engine.connect() as conn:
        kept = dict(
            (
                await conn.execute(
                    text(
                        "SELECT lexeme, sum(chunks) FROM docs_lexemes WHERE collection = :c"
                        " GROUP BY lexeme HAVING sum(chunks) <> 0"
                    ),
                    {"c": collection},
                )
            ).all()
        )
        recomputed = dict(
            (
                await conn.execute(
                    text(
                        "SELECT l, count(*) FROM docs_chunks c,"
                        " unnest(array_append(tsvector_to_array(c.tsv), '')) AS l WHERE c.collection = :c GROUP BY l"
                    ),
                    {"c": collection},
                )
            ).all()
        )
    return kept, recomputed


async def test_lexeme_counts_follow_every_change(engine, tmp_path):
    collection, other = new_id("c"), new_id("c")
    docs = write_pages(tmp_path / "docs", PAGES)
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    await ingest(
        engine,
        [write_pages(tmp_path / "other", {"a.md": "# Gizmo\n\nA gizmo elsewhere.\n"})],
        base_url=BASE,
        collection=other,
    )
    kept, recomputed = await lexeme_counts(engine, collection)
    assert kept == recomputed and kept[""] == sum(
        len(d["chunks"]) for d in (await rows(engine, collection)).values()
    )
    assert kept["gizmo"] == 3  # this collection's chunks only

    (docs / "guides/configure.md").write_text("# Configure\n\nSet the warp drive level.\n")
    (docs / "index.md").unlink()
    await ingest(engine, [docs], base_url=BASE, collection=collection)
    kept, recomputed = await lexeme_counts(engine, collection)
    assert kept == recomputed and "flux" not in kept and kept["warp"] == 1
    async with engine.connect() as conn:  # compacted after the ingest: one row per lexeme
        stored = await conn.scalar(
            text("SELECT count(*) FROM docs_lexemes WHERE collection = :c"), {"c": collection}
        )
    assert stored == len(kept)

    assert await remove_collection(engine, collection)
    assert await lexeme_counts(engine, collection) == ({}, {})
    kept, recomputed = await lexeme_counts(engine, other)
    assert kept == recomputed and kept["gizmo"] == 1


async def collection_vectors(engine, collection: str) -> tuple[str | None, int, int]:
    """(the collection's embedder, its vectors, its chunks)."""
    async with engine.connect() as conn:
        embedder = await conn.scalar(
            text("SELECT embedder FROM docs_collections WHERE name = :c"), {"c": collection}
        )
        vectors = await conn.scalar(
            text("SELECT count(*) FROM docs_embeddings WHERE collection = :c"), {"c": collection}
        )
        chunks = await conn.scalar(
            text("SELECT count(*) FROM docs_chunks WHERE collection = :c"), {"c": collection}
        )
    return embedder, vectors, chunks


async def test_a_fresh_collection_is_hybrid_by_default(engine, tmp_path):
    from docsdesk.core.settings import Settings
    from rag.embeddings import build_embedder

    settings = Settings(_env_file=None, **{"embeddings": Settings.model_fields["embeddings"].default})
    default = build_embedder(settings.embeddings, settings)
    collection = new_id("c")
    summary = await ingest(
        engine, [write_pages(tmp_path, PAGES)], base_url=BASE, collection=collection, embedder=default
    )
    embedder, vectors, chunks = await collection_vectors(engine, collection)
    assert embedder == default.name == settings.embeddings
    assert vectors == chunks == summary.chunks > 0
    assert summary.embedder_change is None and "embedder" not in summary.describe()  # nothing was switched
    # No word of the question is in the docs: only the vectors find the page about logging.
    question = "how can I record debug messages?"
    assert await DocsSearch(engine).search(question, collection=collection) == []
    results = await DocsSearch(engine, default).search(question, collection=collection)
    assert results[0].source_path == "guides/configure.md" and results[0].heading_path[-1] == "Logging"


async def test_old_or_missing_vectors_are_re_embedded_on_the_next_ingest(engine, tmp_path):
    from docsdesk.core.settings import Settings
    from rag.embeddings import DEFAULT_EMBEDDINGS, build_embedder

    default = build_embedder(DEFAULT_EMBEDDINGS, Settings(_env_file=None))
    root = write_pages(tmp_path, PAGES)
    collection = new_id("c")
    await ingest(engine, [root], base_url=BASE, collection=collection, embedder=None)  # full text only
    assert (await collection_vectors(engine, collection))[:2] == (None, 0)

    summary = await ingest(engine, [root], base_url=BASE, collection=collection, embedder=default)
    assert summary.embedder_change == ("none", DEFAULT_EMBEDDINGS)
    assert (summary.unchanged, summary.reembedded, summary.chunks) == (len(PAGES), len(PAGES), 0)
    assert f"embedder none -> {DEFAULT_EMBEDDINGS}: {len(PAGES)} re-embedded" in summary.describe()
    embedder, vectors, chunks = await collection_vectors(engine, collection)
    assert (embedder, vectors) == (DEFAULT_EMBEDDINGS, chunks)

    again = await ingest(engine, [root], base_url=BASE, collection=collection, embedder=default)
    assert (again.embedder_change, again.reembedded) == (None, 0)
    dropped = await ingest(engine, [root], base_url=BASE, collection=collection, embedder=None)
    assert dropped.embedder_change == (DEFAULT_EMBEDDINGS, "none")
    assert f"embedder {DEFAULT_EMBEDDINGS} -> none: vectors dropped" in dropped.describe()
    assert (await collection_vectors(engine, collection))[:2] == (None, 0)
