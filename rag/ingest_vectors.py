"""The vectors side of an ingest run (`rag.ingest`): settle which embedder a collection's
vectors come from (switching drops the old ones), embed changed chunks while reusing the vector
of every chunk whose content is unchanged, and give vectors to documents that lack them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from rag import schema
from rag.embeddings import Embedder, EmbedderMismatch, EmbeddingError
from rag.ingest_report import IngestSummary

log = logging.getLogger("docsdesk.ingest")

_REEMBED_DOCUMENTS = 32  # unchanged documents given new vectors per embedding call


@dataclass
class _Stored:
    id: int
    content_hash: str
    embedder: str | None


def embedding_input(heading: str, body: str) -> str:
    """What is embedded for a chunk: its headings for context, then its text."""
    return f"{heading}\n\n{body}" if heading else body


class VectorRun:
    """State and vector work of one ingest run over one collection."""

    engine: AsyncEngine
    collection: str
    embedder: Embedder | None
    stored: dict[tuple[str, str], _Stored]  # by (source root, document key)
    dimensions: int | None  # of the collection's vectors, once known
    summary: IngestSummary

    @property
    def embedder_name(self) -> str | None:
        return self.embedder.name if self.embedder is not None else None

    async def _switch_embedder(self, previous: str | None) -> None:
        """Drop the collection's vectors and record the new embedder (none included)."""
        if self.embedder is not None:
            probe = await self._embed(["dimension probe"])  # fail now, before dropping anything
            self.dimensions = len(probe[0])
        log.info(
            "collection %r: embedder %s -> %s; re-embedding",
            self.collection,
            previous or "none",
            self.embedder_name or "none",
        )
        if self.stored:  # a collection that had documents: the summary says what was switched
            self.summary.embedder_change = (previous or "none", self.embedder_name or "none")
        async with self.engine.begin() as conn:
            if await schema.vector_installed(conn) and await _has_embeddings_table(conn):
                await conn.execute(
                    text("DELETE FROM docs_embeddings WHERE collection = :c"), {"c": self.collection}
                )
            if self.embedder is not None:
                await schema.ensure_vector_schema(conn)
                assert self.dimensions is not None  # set from the probe above
                await schema.ensure_vector_index(conn, self.dimensions)
            await conn.execute(
                text(
                    "UPDATE docs_collections SET embedder = :e, dimensions = :d, updated_at = now() WHERE name = :c"
                ),
                {"e": self.embedder_name, "d": self.dimensions, "c": self.collection},
            )
            await conn.execute(
                text(
                    "UPDATE docs_documents SET embedder = NULL WHERE collection = :c AND embedder IS NOT NULL"
                ),
                {"c": self.collection},
            )
        for stored in self.stored.values():
            stored.embedder = None

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        assert self.embedder is not None
        vectors = await self.embedder.embed(texts)
        if len(vectors) != len(texts):
            raise EmbeddingError(
                f"{self.embedder.name} returned {len(vectors)} vectors for {len(texts)} texts"
            )
        if self.dimensions is not None and any(len(v) != self.dimensions for v in vectors):
            raise EmbedderMismatch(
                f"collection {self.collection!r} holds {self.dimensions}-dimension vectors; "
                f"{self.embedder.name} gave {len(vectors[0])}: ingest into a new collection"
            )
        return vectors

    async def _vectors_for(self, stored: list[_Stored | None], rows: list[list[dict]]) -> list[str]:
        """Vectors (pgvector text) for the chunks of changed documents (`stored`: what was
        stored of each, if anything), in order, reusing the stored vector of any chunk whose
        content is unchanged."""
        reuse: dict[tuple[int, str], str] = {}
        previous = [i.id for i in stored if i is not None and i.embedder == self.embedder_name]
        if previous:
            async with self.engine.connect() as conn:
                result = await conn.execute(
                    text(
                        "SELECT c.document_id, c.content_hash, e.embedding::text FROM docs_chunks c"
                        " JOIN docs_embeddings e ON e.chunk_id = c.id WHERE c.document_id = ANY(:ids)"
                    ),
                    {"ids": previous},
                )
                reuse = {(doc_id, content_hash): vector for doc_id, content_hash, vector in result}
        keyed = [
            ((item.id if item else -1, row["content_hash"]), row)
            for item, item_rows in zip(stored, rows)
            for row in item_rows
        ]
        missing = [(key, row) for key, row in keyed if key not in reuse]
        if missing:
            fresh = await self._embed(
                [embedding_input(row["heading_text"], row["text"]) for _, row in missing]
            )
            reuse.update((key, schema.vector_literal(v)) for (key, _), v in zip(missing, fresh))
        return [reuse[key] for key, _ in keyed]

    async def _insert_vectors(self, conn: AsyncConnection, chunk_ids: list[int], vectors: list[str]) -> None:
        if self.dimensions is None:
            self.dimensions = _dims_of(vectors[0])
            await schema.ensure_vector_schema(conn)
            await schema.ensure_vector_index(conn, self.dimensions)
            await conn.execute(
                text("UPDATE docs_collections SET dimensions = :d, updated_at = now() WHERE name = :c"),
                {"d": self.dimensions, "c": self.collection},
            )
        await conn.execute(
            text(
                "INSERT INTO docs_embeddings (chunk_id, collection, dims, embedding)"
                " VALUES (:chunk_id, :collection, :dims, CAST(CAST(:embedding AS text) AS vector))"
            ),
            [
                {"chunk_id": cid, "collection": self.collection, "dims": self.dimensions, "embedding": vec}
                for cid, vec in zip(chunk_ids, vectors)
            ],
        )

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; ingestion is re-runnable, so commits need not wait for fsync."""
        async with self.engine.begin() as conn:
            await conn.execute(text("SET LOCAL synchronous_commit = off"))
            yield conn

    async def reembed_stale(self) -> int:
        """Give vectors from this run's embedder to every document of the collection that
        lacks them (unchanged files after an embedder switch, other roots, earlier failures),
        a group of documents per embedding call and transaction."""
        if self.embedder is None:
            return 0
        stale = [stored for stored in self.stored.values() if stored.embedder != self.embedder_name]
        done = 0
        for start in range(0, len(stale), _REEMBED_DOCUMENTS):
            group = stale[start : start + _REEMBED_DOCUMENTS]
            ids = [stored.id for stored in group]
            async with self.engine.connect() as conn:
                chunk_rows = (
                    await conn.execute(
                        text(
                            "SELECT id, heading_text, text FROM docs_chunks WHERE document_id = ANY(:ids)"
                            " ORDER BY id"
                        ),
                        {"ids": ids},
                    )
                ).all()
            vectors = (
                await self._embed([embedding_input(h, t) for _, h, t in chunk_rows]) if chunk_rows else []
            )
            async with self._transaction() as conn:
                chunk_ids = [chunk_id for chunk_id, _, _ in chunk_rows]
                await conn.execute(
                    text("DELETE FROM docs_embeddings WHERE chunk_id = ANY(:ids)"), {"ids": chunk_ids}
                )
                if chunk_ids:
                    await self._insert_vectors(conn, chunk_ids, [schema.vector_literal(v) for v in vectors])
                await conn.execute(
                    text("UPDATE docs_documents SET embedder = :e, updated_at = now() WHERE id = ANY(:ids)"),
                    {"e": self.embedder_name, "ids": ids},
                )
            for stored in group:
                stored.embedder = self.embedder_name
            done += len(group)
        return done


async def _has_embeddings_table(conn: AsyncConnection) -> bool:
    return bool(await conn.scalar(text("SELECT to_regclass('docs_embeddings') IS NOT NULL")))


def _dims_of(vector_text: str) -> int:
    return vector_text.count(",") + 1
