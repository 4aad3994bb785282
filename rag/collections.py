"""Collections: what is indexed, which collection the assistant serves, and the demo docs.

docsdesk's own documentation is a demo for a server started without documentation: it lives in
its own collection (`docsdesk`), is served only while the configured collection is empty, and is
never mixed into an operator's collection. Its URLs are stored site-relative (`/about/NAME`) and
made absolute with the public URL when results are shown, so a changed host or port never leaves
stale links behind.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from rag import schema
from rag.embeddings import Embedder
from rag.ingest import IngestSummary, ingest
from rag.reader_terms import forget_collection_terms

OWN_COLLECTION = "docsdesk"
OWN_DOCS_PATH = "/about/"
SERVING_RECHECK_SECONDS = 10.0


@dataclass(frozen=True)
class CollectionSummary:
    name: str
    files: int
    chunks: int
    embedder: str | None
    last_ingest: datetime | None


async def list_collections(engine: AsyncEngine) -> list[CollectionSummary]:
    """Every collection with its file and chunk counts, embedder and last ingest time."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    """
                    SELECT c.name, count(d.id), coalesce(sum(d.chunk_count), 0), c.embedder,
                           greatest(c.updated_at, max(d.updated_at))
                    FROM docs_collections c LEFT JOIN docs_documents d ON d.collection = c.name
                    GROUP BY c.name ORDER BY c.name
                    """
                )
            )
        ).all()
    return [
        CollectionSummary(name, int(files), int(chunks), embedder, last)
        for name, files, chunks, embedder, last in rows
    ]


async def collection_summary(engine: AsyncEngine, name: str) -> CollectionSummary:
    """One collection's summary (zeros for a collection that does not exist)."""
    for summary in await list_collections(engine):
        if summary.name == name:
            return summary
    return CollectionSummary(name, 0, 0, None, None)


def embedder_note(summary: CollectionSummary, embedder: str | None) -> str | None:
    """What searching `summary`'s collection with `embedder` (DOCSDESK_EMBEDDINGS; None for
    full text) does when its vectors are another embedder's or missing; None when they match.
    Another embedder's vectors are never compared with this one's."""
    if summary.files == 0 or summary.embedder == embedder:
        return None
    name = repr(summary.name)
    if embedder is None:
        return (
            f"collection {name} holds vectors from {summary.embedder}, unused with DOCSDESK_EMBEDDINGS=none:"
            " search is full-text only, and the next ingest drops them"
        )
    if summary.embedder is None:
        return (
            f"collection {name} has no vectors: search is full-text only until the next"
            f" `docsdesk ingest` embeds it with {embedder}"
        )
    return (
        f"collection {name} was embedded with {summary.embedder}, not {embedder}: search is"
        " full-text only until the next `docsdesk ingest` re-embeds it"
    )


async def remove_collection(engine: AsyncEngine, name: str) -> bool:
    """Delete a collection with its documents, chunks, vectors and reader terms; False if there
    was none."""
    async with engine.begin() as conn:
        removed = await conn.execute(text("DELETE FROM docs_collections WHERE name = :n"), {"n": name})
        await schema.compact_lexeme_counts(conn, name)  # its chunks' counts cancel out
        if removed.rowcount:
            await forget_collection_terms(conn, name)
    return bool(removed.rowcount)


async def ingest_own_docs(engine: AsyncEngine, embedder: Embedder | None, root: Path) -> IngestSummary:
    """Index docsdesk's own docs (an absolute folder of Markdown pages; `docsdesk.own_docs.own_docs_root`)
    into their collection (incremental, like any ingest)."""
    async with engine.begin() as conn:  # another install's copy (a different root) goes
        await conn.execute(
            text("DELETE FROM docs_documents WHERE collection = :c AND root <> :r"),
            {"c": OWN_COLLECTION, "r": str(root)},
        )
    return await ingest(
        engine,
        [root],
        base_url=OWN_DOCS_PATH,
        collection=OWN_COLLECTION,
        url_style="plain",
        embedder=embedder,
    )


class ServingCollection:
    """Which collections an assistant answers from. `configured` is one name or several
    (searched together). With `demo_fallback` (the assistant the DOCSDESK_* variables
    describe), docsdesk's own docs stand in while the single configured collection is empty,
    re-checked every few seconds, so a first `docsdesk ingest` beside a running server takes
    over without a restart."""

    def __init__(
        self, engine: AsyncEngine, configured: str | Sequence[str], demo_fallback: bool = True
    ) -> None:
        self.engine = engine
        self.configured_all: tuple[str, ...] = (
            (configured,) if isinstance(configured, str) else tuple(configured)
        )
        if not self.configured_all:
            raise ValueError("an assistant needs at least one collection")
        self.configured = self.configured_all[0]
        self.demo_fallback = demo_fallback and len(self.configured_all) == 1
        self._name: str | None = None if self.demo_fallback else self.configured
        self._checked = 0.0

    async def name(self) -> str:
        """The (first) collection served now."""
        if self._name == self.configured:
            return self._name  # settled: the configured collection does not empty itself
        now = time.monotonic()
        if self._name is None or now - self._checked > SERVING_RECHECK_SECONDS:
            self._checked = now
            self._name = await serving_collection(self.engine, self.configured)
        return self._name

    async def names(self) -> tuple[str, ...]:
        """Every collection served now (the own docs alone while the demo stands in)."""
        if not self.demo_fallback:
            return self.configured_all
        return (await self.name(),)


async def collection_exists(engine: AsyncEngine, name: str) -> bool:
    """Whether `name` has been indexed (it may be empty)."""
    async with engine.connect() as conn:
        query = text("SELECT EXISTS (SELECT 1 FROM docs_collections WHERE name = :n)")
        return bool(await conn.scalar(query, {"n": name}))


async def missing_collections(engine: AsyncEngine, wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """(those of `wanted` that hold no documents, every collection that does)."""
    async with engine.connect() as conn:
        filled = list(
            (
                await conn.execute(text("SELECT DISTINCT collection FROM docs_documents ORDER BY collection"))
            ).scalars()
        )
    return [name for name in wanted if name not in filled], filled


def unknown_collection_message(missing: Sequence[str], existing: Sequence[str]) -> str:
    """One line: which collections are missing or empty, and which hold documents."""
    shown = ", ".join(repr(name) for name in missing)
    have = ", ".join(existing) if existing else "none: index documentation with `docsdesk ingest`"
    return f"no documents in collection {shown} (collections with documents: {have})"


async def serving_collection(engine: AsyncEngine, configured: str) -> str:
    """`configured` if it holds documents (or nothing else does), else the own docs."""
    if configured == OWN_COLLECTION:
        return configured
    async with engine.connect() as conn:
        has = await conn.scalar(
            text("SELECT EXISTS (SELECT 1 FROM docs_documents WHERE collection = :c)"), {"c": configured}
        )
        if has:
            return configured
        own = await conn.scalar(
            text("SELECT EXISTS (SELECT 1 FROM docs_documents WHERE collection = :c)"), {"c": OWN_COLLECTION}
        )
    return OWN_COLLECTION if own else configured
