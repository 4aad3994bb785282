"""Incremental ingestion of documents from sources (`rag.sources`) into PostgreSQL.

Each document is identified by (collection, source root, key) and fingerprinted by the sha256
of its bytes plus its URL, media type and anchor style. A run reads the stored fingerprints
with one SELECT, skips unchanged documents, re-chunks changed ones and deletes the rows of
documents a complete source no longer lists. A document's chunks (and vectors) are swapped in
one transaction, so search never sees half a page.

With an embedder, the collection remembers which embedder produced its vectors; switching
embedder drops the old vectors and re-embeds every document of the collection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.core.locks import session_lock
from rag import schema
from rag.budget import OverBudget
from rag.chunking import Chunk
from rag.embeddings import Embedder, EmbedderMismatch
from rag.exclude import ExcludeRules
from rag.ingest_parse import chunk_within_budget, decode_text, fingerprint
from rag.ingest_report import IngestSummary, ProgressBar
from rag.ingest_rows import INSERT_CHUNKS, UPSERT_DOCUMENTS, chunk_row
from rag.ingest_vectors import VectorRun, _Stored
from rag.sources import Document, DocumentSource, FolderSource, SourceError
from rag.urls import DOC_SUFFIXES, URL_STYLES, check_base_url

log = logging.getLogger("docsdesk.ingest")

_BATCH_FILES = 64  # files prepared ahead of the writer, and written per transaction at most
_BATCH_BYTES = 2_000_000
_WRITERS = 2  # write transactions in flight
FILE_BUDGET_SECONDS = 10.0  # parsing and chunking one file; past it the file is skipped, listed


class IngestError(RuntimeError):
    """Ingestion cannot proceed; the message is one line for humans."""


class IngestBusy(IngestError):
    """Another ingest into the same collection is running."""


@dataclass
class _Prepared:
    root: str  # of the document's source
    document: Document
    stored: _Stored | None
    content_hash: str
    chunks: list[Chunk] | None  # None: unchanged (or skipped), nothing to write
    skipped: bool = False  # over its time budget: not indexed, its old rows removed

    @property
    def size(self) -> int:
        return len(self.document.data)


# --- the run --------------------------------------------------------------------------


async def ingest(
    engine: AsyncEngine,
    paths: list[Path],
    *,
    base_url: str,
    collection: str = "default",
    url_style: str = "mkdocs",
    embedder: Embedder | None = None,
    progress: bool = False,
    exclude: tuple[str, ...] | list[str] = (),
) -> IngestSummary:
    """Bring `collection` in line with the documentation files under `paths` (minus the
    default skips and the `exclude` glob patterns, rag.exclude)."""
    if not paths:
        raise IngestError("nothing to ingest: give at least one path")
    if url_style not in URL_STYLES:
        raise IngestError(f"unknown url style {url_style!r}; expected one of {', '.join(URL_STYLES)}")
    try:
        check_base_url(base_url, site_relative=True)
        rules = ExcludeRules(tuple(exclude))
        sources = await asyncio.to_thread(
            FolderSource.discover, paths, base_url=base_url, url_style=url_style, rules=rules
        )
    except (SourceError, ValueError) as exc:
        raise IngestError(str(exc)) from None
    if not any(source.count() for source in sources):
        raise IngestError(
            f"no documents found under {', '.join(map(str, paths))} "
            f"(looked for {', '.join(DOC_SUFFIXES)} files"
            + (f"; skipped {', '.join(rules.skipped)})" if rules.skipped else ")")
        )
    summary = await ingest_sources(
        engine, sources, collection=collection, anchor_style=url_style, embedder=embedder, progress=progress
    )
    summary.skipped[:0] = rules.skipped
    return summary


async def ingest_sources(
    engine: AsyncEngine,
    sources: Sequence[DocumentSource],
    *,
    collection: str = "default",
    anchor_style: str = "mkdocs",
    embedder: Embedder | None = None,
    progress: bool = False,
    report: Callable[[int, int | None], None] | None = None,
    locked: Callable[[], Awaitable[None]] | None = None,
) -> IngestSummary:
    """Bring `collection` in line with the documents of `sources`, whose headings' anchors
    follow `anchor_style`'s generator; `report(documents done, documents in all)` as it goes,
    `locked()` once the collection's lock is held (it may raise to give up)."""
    started = time.perf_counter()
    if anchor_style not in URL_STYLES:
        raise IngestError(f"unknown url style {anchor_style!r}; expected one of {', '.join(URL_STYLES)}")
    if not collection.strip():
        raise IngestError("the collection name cannot be empty")
    summary = IngestSummary()
    async with _collection_lock(engine, collection):
        if locked is not None:
            await locked()
        run = _Run(engine, collection, anchor_style, embedder, summary)
        await run.prepare()
        counts = [source.count() for source in sources]
        total = None if None in counts else sum(c or 0 for c in counts)
        try:
            with ProgressBar(progress, total, report) as advance:
                seen = await run.sync_documents(sources, advance)
        except SourceError as exc:
            raise IngestError(str(exc)) from exc
        await run.remove_missing([s.root for s in sources if s.complete], seen - run.over_budget)
        summary.reembedded += await run.reembed_stale()
        if summary.chunks or summary.removed:
            async with engine.begin() as conn:
                await schema.compact_lexeme_counts(conn, collection)
    if summary.chunks:
        await _analyze(engine, summary.chunks)
    summary.seconds = time.perf_counter() - started
    return summary


@asynccontextmanager
async def _collection_lock(engine: AsyncEngine, collection: str) -> AsyncIterator[None]:
    """One ingest per collection at a time (a session advisory lock, held across commits)."""
    async with session_lock(engine, f"docsdesk.ingest:{collection}") as held:
        if held is None:
            raise IngestBusy(f"another ingest into collection {collection!r} is running")
        yield


class _Run(VectorRun):
    """The state of one ingest run over one collection."""

    def __init__(
        self,
        engine: AsyncEngine,
        collection: str,
        anchor_style: str,
        embedder: Embedder | None,
        summary: IngestSummary,
    ) -> None:
        self.engine = engine
        self.collection = collection
        self.anchor_style = anchor_style
        self.embedder = embedder
        self.summary = summary
        self.over_budget: set[tuple[str, str]] = set()  # (root, key) of documents skipped
        self.stored: dict[tuple[str, str], _Stored] = {}
        self.dimensions: int | None = None  # of the collection's vectors, once known

    async def prepare(self) -> None:
        """Read the stored fingerprints (the one SELECT an unchanged run makes) and settle the
        collection's embedder: create the collection, or switch it to this run's embedder."""
        async with self.engine.connect() as conn:
            vector_ok = await schema.vector_installed(conn)
            row: tuple[Any, ...] | None = (
                await conn.execute(
                    text("SELECT embedder, dimensions FROM docs_collections WHERE name = :c"),
                    {"c": self.collection},
                )
            ).first()
            docs = await conn.execute(
                text(
                    "SELECT id, root, source_path, content_hash, embedder FROM docs_documents"
                    " WHERE collection = :c"
                ),
                {"c": self.collection},
            )
            for doc_id, root, source_path, content_hash, embedder in docs:
                self.stored[(root, source_path)] = _Stored(doc_id, content_hash, embedder)
        if self.embedder is not None and not vector_ok:
            log.warning("pgvector is not installed: ingesting %r without embeddings", self.collection)
            self.embedder = None
        if row is None:
            async with self.engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO docs_collections (name) VALUES (:c) ON CONFLICT DO NOTHING"),
                    {"c": self.collection},
                )
            row = (None, None)
        stored_embedder, stored_dims = row
        if stored_embedder == self.embedder_name:
            self.dimensions = stored_dims
            if self.embedder is not None:
                known = self.embedder.dimensions
                if stored_dims and known and known != stored_dims:
                    raise EmbedderMismatch(
                        f"collection {self.collection!r} holds {stored_dims}-dimension vectors from "
                        f"{stored_embedder}, which now gives {known}: re-embed with another embedder "
                        "name or ingest into a new collection"
                    )
            return
        await self._switch_embedder(stored_embedder)

    # --- files --------------------------------------------------------------------

    async def sync_documents(
        self, sources: Sequence[DocumentSource], advance: Callable[[int], None]
    ) -> set[tuple[str, str]]:
        """Prepare documents (fetch, hash, chunk) ahead of the writers, which swap in what is
        ready in batches, one transaction each (a document is never half visible). Two writers
        keep both PostgreSQL and this process busy (building tsvectors is most of the work).
        Returns the (root, key) of every document the sources listed."""
        queue: asyncio.Queue[_Prepared | Exception | None] = asyncio.Queue(_BATCH_FILES)
        seen: set[tuple[str, str]] = set()

        async def produce() -> None:
            try:
                for source in sources:
                    async for document in source.documents():
                        if (source.root, document.key) in seen:
                            continue  # listed twice: the first one counts
                        seen.add((source.root, document.key))
                        await queue.put(await self._prepare(source.root, document))
                await queue.put(None)
            except Exception as exc:  # noqa: BLE001 - handed to the writer, which raises it
                await queue.put(exc)

        async def write(batch: list[_Prepared]) -> None:
            await self._write_batch(batch)
            advance(len(batch))

        producer = asyncio.create_task(produce())
        writers: set[asyncio.Future[None]] = set()
        try:
            finished = False
            while not finished:
                batch: list[_Prepared] = []
                item = await queue.get()
                while True:
                    if isinstance(item, Exception):
                        raise item
                    if item is None:
                        finished = True
                        break
                    batch.append(item)
                    full = len(batch) >= _BATCH_FILES or sum(i.size for i in batch) >= _BATCH_BYTES
                    if full or queue.empty():
                        break
                    item = queue.get_nowait()
                if len(writers) >= _WRITERS:
                    done, writers = await asyncio.wait(writers, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
                if batch:
                    writers.add(asyncio.create_task(write(batch)))
            for task in asyncio.as_completed(writers):
                await task
        finally:
            for task in (producer, *writers):
                task.cancel()
            await asyncio.gather(producer, *writers, return_exceptions=True)
        return seen

    async def _prepare(self, root: str, document: Document) -> _Prepared:
        stored = self.stored.get((root, document.key))
        if document.unchanged:  # the source vouches for the stored copy
            if stored is None:
                self.summary.skipped.append(f"{document.key} (reported unchanged but not stored)")
                return _Prepared(root, document, None, "", None, skipped=True)
            return _Prepared(root, document, stored, stored.content_hash, None)
        content_hash = fingerprint(document, self.anchor_style)
        self.summary.bytes += len(document.data)
        if stored is not None and stored.content_hash == content_hash:
            return _Prepared(root, document, stored, content_hash, None)
        raw = decode_text(document.data, document.url or document.key)
        try:
            chunks = await asyncio.to_thread(
                chunk_within_budget, document, raw, self.anchor_style, self.collection, FILE_BUDGET_SECONDS
            )
        except OverBudget:
            log.warning("%s: skipped, took over %g s to parse", document.key, FILE_BUDGET_SECONDS)
            self.summary.skipped.append(f"{document.key} (took over {FILE_BUDGET_SECONDS:g} s to parse)")
            self.over_budget.add((root, document.key))
            return _Prepared(root, document, stored, content_hash, None, skipped=True)
        except Exception as exc:
            raise IngestError(f"{document.key}: cannot be chunked: {exc}") from exc
        return _Prepared(root, document, stored, content_hash, chunks)

    async def _write_batch(self, items: list[_Prepared]) -> None:
        """Swap in the chunks (and vectors) of the changed files among `items`, in one transaction."""
        changed = [item for item in items if item.chunks is not None]
        self.summary.unchanged += sum(1 for item in items if item.chunks is None and not item.skipped)
        if not changed:
            return
        rows = [[chunk_row(self.collection, c) for c in item.chunks or ()] for item in changed]
        vectors = await self._vectors_for([i.stored for i in changed], rows) if self.embedder else None
        embedder = self.embedder_name if vectors is not None else None
        documents = [
            {
                "collection": self.collection,
                "root": item.root,
                "source_path": item.document.key,
                "page_url": item.chunks[0].page_url if item.chunks else "",
                "title": item.chunks[0].page_title if item.chunks else "",
                "content_hash": item.content_hash,
                "bytes": item.size,
                "chunk_count": len(item_rows),
                "embedder": embedder,
            }
            for item, item_rows in zip(changed, rows)
        ]
        async with self._transaction() as conn:
            upserted = await conn.execute(UPSERT_DOCUMENTS, documents)
            doc_ids = {(root, path): doc_id for doc_id, root, path in upserted}
            ids = [doc_ids[(item.root, item.document.key)] for item in changed]
            replaced = [doc_id for item, doc_id in zip(changed, ids) if item.stored is not None]
            if replaced:
                await conn.execute(
                    text("DELETE FROM docs_chunks WHERE document_id = ANY(:ids)"), {"ids": replaced}
                )
            flat = [
                {**row, "document_id": doc_id} for doc_id, item_rows in zip(ids, rows) for row in item_rows
            ]
            if flat:
                inserted = await conn.execute(INSERT_CHUNKS, flat)
                chunk_ids = {(doc_id, ordinal): chunk_id for chunk_id, doc_id, ordinal in inserted}
                if vectors is not None:
                    await self._insert_vectors(
                        conn, [chunk_ids[(row["document_id"], row["ordinal"])] for row in flat], vectors
                    )
        for item, doc_id, item_rows in zip(changed, ids, rows):
            if item.stored is None:
                self.summary.added += 1
            else:
                self.summary.changed += 1
            self.summary.chunks += len(item_rows)
            self.stored[(item.root, item.document.key)] = _Stored(doc_id, item.content_hash, embedder)

    async def remove_missing(self, roots: list[str], present: set[tuple[str, str]]) -> None:
        """Delete the documents of each complete source (by root) that it no longer lists."""
        complete = set(roots)
        gone = [key for key in self.stored if key[0] in complete and key not in present]
        if not gone:
            return
        async with self._transaction() as conn:
            await conn.execute(
                text("DELETE FROM docs_documents WHERE id = ANY(:ids)"),
                {"ids": [self.stored[key].id for key in gone]},
            )
        for key in gone:
            del self.stored[key]
        self.summary.removed += len(gone)


async def collection_document_count(engine: AsyncEngine, collection: str) -> int:
    """How many documents `collection` holds (0 for an unknown collection)."""
    async with engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM docs_documents WHERE collection = :c"), {"c": collection}
        )
    return int(count or 0)


async def _analyze(engine: AsyncEngine, written: int) -> None:
    """Refresh the planner's statistics of the chunks (for its plans of the search queries)
    when this run wrote a good part of the table; smaller changes are left to autovacuum."""
    try:
        async with engine.connect() as conn:
            rows = await conn.scalar(
                text("SELECT reltuples FROM pg_class WHERE oid = 'docs_chunks'::regclass")
            )
            if rows is None or rows <= 0 or written >= 0.1 * rows:
                await conn.execute(text("ANALYZE docs_chunks, docs_lexemes"))
            await conn.commit()
    except DBAPIError as exc:  # e.g. a role that may write but not ANALYZE: autovacuum will
        log.info("ANALYZE of the docs tables skipped: %s", exc.orig)
