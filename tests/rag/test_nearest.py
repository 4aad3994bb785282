"""The vector side of hybrid search (rag.nearest) on real PostgreSQL with pgvector: one statement
reads the vectors' size in scope and sets up the HNSW scan for the search's depth; another
embedder's collection gives no vectors. (Mismatch warnings and fusion: tests/rag/test_search.py.)"""

from __future__ import annotations

from sqlalchemy import text

from rag.ingest import ingest
from rag.nearest import NearestChunks
from rag.search import SearchQuery
from tests.rag.test_search import BASE, PAGES, TrigramEmbedder
from tests.support import new_id, write_pages


async def test_the_scan_is_set_up_for_the_depth_in_the_same_statement(engine, tmp_path):
    collection = new_id("c")
    await ingest(engine, [write_pages(tmp_path, PAGES)], base_url=BASE, collection=collection,
                 embedder=TrigramEmbedder(64))  # fmt: skip
    nearest = NearestChunks(TrigramEmbedder(64))
    query = SearchQuery.of("palette", collection=collection)
    async with engine.connect() as conn:
        assert await nearest._vector_dims(conn, query, depth=120) == 64
        settings = (
            await conn.execute(
                text("SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan')")
            )
        ).one()
        assert tuple(settings) == ("120", "relaxed_order")
        [vector] = await TrigramEmbedder(64).embed(["palette"])
        ranked = await nearest.ranked(conn, vector, query, depth=3)
        assert len(ranked) == 3 and ranked[0].score >= ranked[-1].score
        await conn.rollback()
        # Set for the transaction only: the pool's next user starts from the server's default.
        assert await conn.scalar(text("SELECT current_setting('hnsw.ef_search')")) == "40"
    other = NearestChunks(TrigramEmbedder(64, name="test:other"))
    async with engine.connect() as conn:
        assert await other._vector_dims(conn, query, depth=50) is None
        assert await other.ranked(conn, vector, query, depth=50) == []
