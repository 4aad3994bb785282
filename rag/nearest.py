"""The vector side of a hybrid search (`rag.search`): the chunks nearest to the query's
embedding in pgvector, from collections embedded by this very embedder only.

Vectors of two models are never compared: when a collection in scope was embedded by another
embedder (or with another vector size), the search is full-text only, with one warning per
distinct reason, until the next ingest re-embeds it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from rag import schema
from rag.embeddings import Embedder
from rag.ranking import Ranked, nearest_sql

if TYPE_CHECKING:
    from rag.search import SearchQuery

log = logging.getLogger("docsdesk.search")


class NearestChunks:
    """Nearest-neighbour lists for one embedder; one per `DocsSearch`."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._warned: set[str] = set()  # mismatches already logged

    async def ranked(
        self, conn: AsyncConnection, vector: list[float], query: SearchQuery, depth: int
    ) -> list[Ranked]:
        """The chunks nearest to `vector`, nearest first (score: 1 - cosine distance); empty
        when the scope holds no vectors of this embedder."""
        dims = await self._vector_dims(conn, query, depth)
        if dims is None:
            return []
        if len(vector) != dims:
            self._warn_once(
                f"{self.embedder.name} gives {len(vector)}-dimension vectors but the documentation was "
                f"embedded with {dims}: searching full-text only until it is re-ingested"
            )
            return []
        values = {"vector": schema.vector_literal(vector), "depth": depth, **query.binds}
        sql = nearest_sql(dims, query.scope("e.collection"))
        # `Result.all()` returns a list (typed as a Sequence).
        rows = cast("list[Any]", (await conn.execute(query.statement(sql), values)).all())
        rows.sort(key=lambda r: (r.distance, r.page_url, r.chunk_id))
        return [Ranked(r.chunk_id, r.page_url, 1.0 - r.distance) for r in rows]

    async def _vector_dims(self, conn: AsyncConnection, query: SearchQuery, depth: int) -> int | None:
        """The dimension of the vectors in scope; None when there are none, or when some are
        another embedder's (never compared with this one's: full text only, with a warning).

        The same statement sets up the HNSW scan: deep enough for `depth` results, and scanning
        on when the collection filter drops candidates (pgvector >= 0.8 iterative scans); local
        to the connection's transaction, which ends (rolled back) when it goes back to the pool.
        One round trip fewer per search than a separate SET."""
        statement = query.statement(
            "SELECT c.name, c.embedder, c.dimensions FROM docs_collections c,"
            " (SELECT set_config('hnsw.ef_search', :ef, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true)) AS hnsw"
            f" WHERE c.embedder IS NOT NULL AND c.dimensions IS NOT NULL {query.scope('c.name')}"
        )
        rows = (await conn.execute(statement, {"ef": str(max(40, depth)), **query.binds})).all()
        for name, embedder, dims in rows:
            known = self.embedder.dimensions
            if embedder != self.embedder.name or (known and known != dims):
                self._warn_once(
                    f"collection {name!r} was embedded with {embedder} ({dims} dimensions), not "
                    f"{self.embedder.name}: searching it full-text only until the next ingest re-embeds it"
                )
                return None
        return rows[0].dimensions if rows else None

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)
