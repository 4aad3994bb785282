"""Incremental ingestion of documentation files into PostgreSQL.

Each file is identified by (collection, root, source path) and fingerprinted by the sha256 of
its bytes plus the URL settings. A run reads the stored fingerprints with one SELECT, skips
unchanged files, re-chunks changed ones and deletes the rows of files gone from a root. A
file's chunks (and vectors) are swapped in one transaction, so search never sees half a file.

With an embedder, the collection remembers which embedder produced its vectors; switching
embedder drops the old vectors and re-embeds every document of the collection.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from docsdesk.core.terms import identifier_terms
from rag import schema
from rag.chunking import Chunk, chunk_document
from rag.embeddings import Embedder, EmbedderMismatch, EmbeddingError
from rag.exclude import ExcludeRules
from rag.urls import DOC_SUFFIXES, URL_STYLES, check_base_url

log = logging.getLogger("docsdesk.ingest")

MAX_SKIPPED_SHOWN = 8  # skipped folders and files named in the summary line
_BATCH_FILES = 64  # files prepared ahead of the writer, and written per transaction at most
_BATCH_BYTES = 2_000_000
_WRITERS = 2  # write transactions in flight
_REEMBED_DOCUMENTS = 32  # unchanged documents given new vectors per embedding call


def _upsert_documents() -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE of document rows, returning (id, root, source_path)."""
    stmt = pg_insert(schema.documents)
    updated = ("page_url", "title", "content_hash", "bytes", "chunk_count", "embedder")
    return stmt.on_conflict_do_update(
        index_elements=["collection", "root", "source_path"],
        set_={**{name: stmt.excluded[name] for name in updated}, "updated_at": func.now()},
    ).returning(schema.documents.c.id, schema.documents.c.root, schema.documents.c.source_path)


_UPSERT_DOCUMENTS = _upsert_documents()
_INSERT_CHUNKS = schema.chunks.insert().returning(
    schema.chunks.c.id, schema.chunks.c.document_id, schema.chunks.c.ordinal
)


class IngestError(RuntimeError):
    """Ingestion cannot proceed; the message is one line for humans."""


@dataclass
class IngestSummary:
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    chunks: int = 0  # chunks written by this run
    seconds: float = 0.0
    bytes: int = 0  # bytes read from disk
    reembedded: int = 0  # unchanged documents given vectors from a new embedder
    skipped: list[str] = field(default_factory=list)  # folders and files excluded, with why

    def describe(self) -> str:
        """One line for people: what changed, and how long it took."""
        parts = [
            f"{self.added} files added",
            f"{self.changed} changed",
            f"{self.removed} removed",
            f"{self.unchanged} unchanged",
        ]
        if self.reembedded:
            parts.append(f"{self.reembedded} re-embedded")
        line = f"{', '.join(parts)}; {self.chunks} chunks written in {self.seconds:.1f} s"
        if self.skipped:
            shown = ", ".join(self.skipped[:MAX_SKIPPED_SHOWN])
            more = len(self.skipped) - MAX_SKIPPED_SHOWN
            line += f"; skipped {shown}" + (f" and {more} more" if more > 0 else "")
        return line

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class SourceFile:
    root: str  # absolute root the source path is relative to
    source_path: str  # posix, relative to root
    path: Path


@dataclass
class _Root:
    key: str
    is_dir: bool
    files: list[SourceFile] = field(default_factory=list)


@dataclass
class _Stored:
    id: int
    content_hash: str
    embedder: str | None


@dataclass
class _Prepared:
    source: SourceFile
    stored: _Stored | None
    content_hash: str
    size: int
    chunks: list[Chunk] | None  # None: unchanged, nothing to write


# --- discovery ------------------------------------------------------------------------


def discover(paths: list[Path], rules: ExcludeRules | None = None) -> list[_Root]:
    """Blocking: the documentation files under each path (a directory, or a single file),
    minus what `rules` exclude (rag.exclude; the defaults when None)."""
    rules = rules if rules is not None else ExcludeRules()
    roots: dict[str, _Root] = {}
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise IngestError(f"{given}: no such file or directory")
        path = path.resolve()
        if path.is_file():
            if path.suffix.lower() not in DOC_SUFFIXES:
                raise IngestError(f"{given}: not a documentation file ({', '.join(DOC_SUFFIXES)})")
            root = roots.setdefault(f"{path.parent}", _Root(str(path.parent), is_dir=False))
            root.files.append(SourceFile(root.key, path.name, path))
            continue
        root = roots.setdefault(str(path), _Root(str(path), is_dir=True))
        root.is_dir = True
        for dirpath, dirnames, filenames in os.walk(path):
            here = Path(dirpath).relative_to(path).as_posix()
            prefix = "" if here == "." else here + "/"
            dirnames[:] = [d for d in sorted(dirnames) if not rules.skip(prefix + d, is_dir=True)]
            for name in sorted(filenames):
                if Path(name).suffix.lower() not in DOC_SUFFIXES or rules.skip(prefix + name, is_dir=False):
                    continue
                full = Path(dirpath) / name
                root.files.append(SourceFile(root.key, full.relative_to(path).as_posix(), full))
    for root in roots.values():
        unique = {f.source_path: f for f in root.files}
        root.files = [unique[k] for k in sorted(unique)]
    return list(roots.values())


def fingerprint(data: bytes, base_url: str, url_style: str) -> str:
    """sha256 of the file's bytes and the settings that shape its URLs."""
    digest = hashlib.sha256()
    digest.update(f"{base_url}\0{url_style}\0".encode())
    digest.update(data)
    return digest.hexdigest()


def _read(path: Path, base_url: str, url_style: str) -> tuple[bytes, str]:
    """Blocking: the file's bytes and fingerprint."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: {exc.strerror or exc}") from exc
    return data, fingerprint(data, base_url, url_style)


def _decode(data: bytes, path: Path) -> str:
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not valid UTF-8; undecodable bytes replaced", path)
        raw = data.decode("utf-8", errors="replace")
    return raw.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def heading_text(page_title: str, heading_path: tuple[str, ...] | list[str]) -> str:
    """The title and headings of a chunk as one line (weighted 'A' in full-text search)."""
    parts = [page_title] if page_title and (not heading_path or heading_path[0] != page_title) else []
    return " › ".join([*parts, *heading_path])


def _chunk_row(collection: str, chunk: Chunk) -> dict:
    return {
        "collection": collection,
        "ordinal": chunk.ordinal,
        "url": chunk.url,
        "page_url": chunk.page_url,
        "page_title": chunk.page_title,
        "heading_path": list(chunk.heading_path),
        "heading_text": heading_text(chunk.page_title, chunk.heading_path),
        "text": chunk.text,
        "identifiers": identifier_terms(f"{chunk.page_title} {' '.join(chunk.heading_path)} {chunk.text}"),
        "token_count": chunk.token_count,
        "content_hash": chunk.content_hash,
    }


def embedding_input(heading: str, body: str) -> str:
    """What is embedded for a chunk: its headings for context, then its text."""
    return f"{heading}\n\n{body}" if heading else body


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
    started = time.perf_counter()
    if not paths:
        raise IngestError("nothing to ingest: give at least one path")
    if url_style not in URL_STYLES:
        raise IngestError(f"unknown url style {url_style!r}; expected one of {', '.join(URL_STYLES)}")
    if not collection.strip():
        raise IngestError("the collection name cannot be empty")
    try:
        check_base_url(base_url, site_relative=True)
        rules = ExcludeRules(tuple(exclude))
    except ValueError as exc:
        raise IngestError(str(exc)) from None
    roots = await asyncio.to_thread(discover, paths, rules)
    if not any(root.files for root in roots):
        raise IngestError(
            f"no documents found under {', '.join(map(str, paths))} "
            f"(looked for {', '.join(DOC_SUFFIXES)} files"
            + (f"; skipped {', '.join(rules.skipped)})" if rules.skipped else ")")
        )
    summary = IngestSummary(skipped=rules.skipped)
    async with _collection_lock(engine, collection):
        run = _Run(engine, collection, base_url, url_style, embedder, summary)
        await run.prepare()
        with _ProgressBar(progress, sum(len(r.files) for r in roots)) as advance:
            await run.sync_files(roots, advance)
        await run.remove_missing(roots)
        await run.reembed_stale()
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
    key = f"docsdesk.ingest:{collection}"
    async with engine.connect() as conn:
        locked = await conn.scalar(text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), {"k": key})
        await conn.commit()
        if not locked:
            raise IngestError(f"another ingest into collection {collection!r} is running")
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": key})
            await conn.commit()


class _Run:
    """The state of one ingest run over one collection."""

    def __init__(
        self,
        engine: AsyncEngine,
        collection: str,
        base_url: str,
        url_style: str,
        embedder: Embedder | None,
        summary: IngestSummary,
    ) -> None:
        self.engine = engine
        self.collection = collection
        self.base_url = base_url
        self.url_style = url_style
        self.embedder = embedder
        self.summary = summary
        self.stored: dict[tuple[str, str], _Stored] = {}
        self.dimensions: int | None = None  # of the collection's vectors, once known

    @property
    def embedder_name(self) -> str | None:
        return self.embedder.name if self.embedder is not None else None

    async def prepare(self) -> None:
        """Read the stored fingerprints (the one SELECT an unchanged run makes) and settle the
        collection's embedder: create the collection, or switch it to this run's embedder."""
        async with self.engine.connect() as conn:
            vector_ok = await schema.vector_installed(conn)
            row = (
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
        async with self.engine.begin() as conn:
            if await schema.vector_installed(conn) and await _has_embeddings_table(conn):
                await conn.execute(
                    text("DELETE FROM docs_embeddings WHERE collection = :c"), {"c": self.collection}
                )
            if self.embedder is not None:
                await schema.ensure_vector_schema(conn)
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

    # --- files --------------------------------------------------------------------

    async def sync_files(self, roots: list[_Root], advance: Callable[[int], None]) -> None:
        """Prepare files (read, hash, chunk) ahead of the writers, which swap in what is ready
        in batches, one transaction each (a file is never half visible). Two writers keep
        both PostgreSQL and this process busy (building tsvectors is most of the work)."""
        queue: asyncio.Queue[_Prepared | Exception | None] = asyncio.Queue(_BATCH_FILES)

        async def produce() -> None:
            try:
                for root in roots:
                    for source in root.files:
                        await queue.put(await self._prepare_file(source))
                await queue.put(None)
            except Exception as exc:  # noqa: BLE001 - handed to the writer, which raises it
                await queue.put(exc)

        async def write(batch: list[_Prepared]) -> None:
            await self._write_batch(batch)
            advance(len(batch))

        producer = asyncio.create_task(produce())
        writers: set[asyncio.Task] = set()
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

    async def _prepare_file(self, source: SourceFile) -> _Prepared:
        data, content_hash = await asyncio.to_thread(_read, source.path, self.base_url, self.url_style)
        self.summary.bytes += len(data)
        stored = self.stored.get((source.root, source.source_path))
        if stored is not None and stored.content_hash == content_hash:
            return _Prepared(source, stored, content_hash, len(data), None)
        raw = _decode(data, source.path)
        try:
            chunks = await asyncio.to_thread(
                chunk_document,
                source.source_path,
                raw,
                base_url=self.base_url,
                url_style=self.url_style,
                collection=self.collection,
            )
        except Exception as exc:
            raise IngestError(f"{source.path}: cannot be chunked: {exc}") from exc
        return _Prepared(source, stored, content_hash, len(data), chunks)

    async def _write_batch(self, items: list[_Prepared]) -> None:
        """Swap in the chunks (and vectors) of the changed files among `items`, in one transaction."""
        changed = [item for item in items if item.chunks is not None]
        self.summary.unchanged += len(items) - len(changed)
        if not changed:
            return
        rows = [[_chunk_row(self.collection, c) for c in item.chunks] for item in changed]
        vectors = await self._vectors_for(changed, rows) if self.embedder is not None else None
        embedder = self.embedder_name if vectors is not None else None
        documents = [
            {
                "collection": self.collection,
                "root": item.source.root,
                "source_path": item.source.source_path,
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
            upserted = await conn.execute(_UPSERT_DOCUMENTS, documents)
            doc_ids = {(root, path): doc_id for doc_id, root, path in upserted}
            ids = [doc_ids[(item.source.root, item.source.source_path)] for item in changed]
            replaced = [doc_id for item, doc_id in zip(changed, ids) if item.stored is not None]
            if replaced:
                await conn.execute(
                    text("DELETE FROM docs_chunks WHERE document_id = ANY(:ids)"), {"ids": replaced}
                )
            flat = [
                {**row, "document_id": doc_id} for doc_id, item_rows in zip(ids, rows) for row in item_rows
            ]
            if flat:
                inserted = await conn.execute(_INSERT_CHUNKS, flat)
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
            self.stored[(item.source.root, item.source.source_path)] = _Stored(
                doc_id, item.content_hash, embedder
            )

    async def _vectors_for(self, items: list[_Prepared], rows: list[list[dict]]) -> list[str]:
        """Vectors (pgvector text) for the chunks of changed files, in order, reusing the
        stored vector of any chunk whose content is unchanged."""
        reuse: dict[tuple[int, str], str] = {}
        previous = [
            i.stored.id for i in items if i.stored is not None and i.stored.embedder == self.embedder_name
        ]
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
            ((item.stored.id if item.stored else -1, row["content_hash"]), row)
            for item, item_rows in zip(items, rows)
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

    # --- removals and re-embedding --------------------------------------------------

    async def remove_missing(self, roots: list[_Root]) -> None:
        """Delete the documents of each directory root that are no longer on disk."""
        present = {(f.root, f.source_path) for r in roots for f in r.files}
        dir_roots = {r.key for r in roots if r.is_dir}
        gone = [key for key in self.stored if key[0] in dir_roots and key not in present]
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

    async def reembed_stale(self) -> None:
        """Give vectors from this run's embedder to every document of the collection that
        lacks them (unchanged files after an embedder switch, other roots, earlier failures),
        a group of documents per embedding call and transaction."""
        if self.embedder is None:
            return
        stale = [stored for stored in self.stored.values() if stored.embedder != self.embedder_name]
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
            self.summary.reembedded += len(group)


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


async def _has_embeddings_table(conn: AsyncConnection) -> bool:
    return bool(await conn.scalar(text("SELECT to_regclass('docs_embeddings') IS NOT NULL")))


def _dims_of(vector_text: str) -> int:
    return vector_text.count(",") + 1


class _ProgressBar:
    """A Rich progress bar on stderr when asked for; otherwise a no-op `advance`."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._progress = None
        if enabled:
            from rich.console import Console  # imported only when showing progress
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("ingesting"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._progress.add_task("files", total=total)

    def __enter__(self) -> Callable[[int], None]:
        if self._progress is None:
            return lambda files: None
        self._progress.start()
        return lambda files: self._progress.advance(self._task, files)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
