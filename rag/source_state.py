"""What the database remembers of each named source (migration 0011): its collection, kind
and settings, its last sync, and the version of each of its documents.

A source's documents are stored under the root `source:NAME` (rag.ingest's (collection,
root, key)), so two sources feeding one collection never remove each other's documents.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_FAILURES_KEPT = 200  # per-document failures (and skips) stored with a sync
ROBOTS_DISALLOWED = "disallowed by robots.txt"


class SourceStateError(RuntimeError):
    """A source cannot be added or found; the message is one line for humans."""


@dataclass(frozen=True)
class Known:
    """A document as the last sync left it: what to ask the source whether it changed."""

    url: str
    version: str
    links: tuple[str, ...] | None = None  # a crawled page's in-scope links


@dataclass(frozen=True)
class Failure:
    """A document a sync could not read (or, among `SyncCounts.skipped`, chose not to): its
    key (a site's page URL) and why."""

    key: str
    error: str


@dataclass
class SyncCounts:
    """One sync: what the source fetched and what ingestion did with it."""

    fetched: int = 0  # documents read in full (HTTP 200, blobs read)
    unchanged: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[Failure] = field(default_factory=list)  # on purpose: robots.txt disallows them

    @property
    def failed(self) -> int:
        return len(self.failures)

    def describe(self) -> str:
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return (
            f"{self.fetched} fetched, {self.unchanged} unchanged, {self.added} added, "
            f"{self.changed} changed, {self.removed} removed, {self.failed} failed{skipped} in {self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class SourceRecord:
    name: str
    collection: str
    kind: str
    settings: dict[str, Any]
    last_sync_at: datetime | None = None
    last: SyncCounts | None = None
    last_error: str | None = None
    every_seconds: int | None = None  # the schedule: a sync every this many seconds
    next_run_at: datetime | None = None
    failing: int = 0  # syncs in a row that failed as a whole

    @property
    def root(self) -> str:
        return source_root(self.name)


def source_root(name: str) -> str:
    return f"source:{name}"


def check_name(name: str, what: str = "source") -> str:
    if not NAME.fullmatch(name):
        raise SourceStateError(
            f"{what} name {name[:80]!r}: use 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit)"
        )
    return name


async def add_source(
    engine: AsyncEngine,
    name: str,
    collection: str,
    kind: str,
    settings: dict[str, Any],
    every_seconds: int | None = None,
) -> SourceRecord:
    """Record a source; with `every_seconds`, its first scheduled sync is due at once."""
    check_name(name)
    check_name(collection, "collection")
    try:
        async with engine.begin() as conn:
            row = await conn.execute(
                text(
                    "INSERT INTO docs_sources (name, collection, kind, settings, every_seconds, next_run_at)"
                    " VALUES (:n, :c, :k, CAST(:s AS jsonb), CAST(:e AS integer),"
                    " CASE WHEN CAST(:e AS integer) IS NULL THEN NULL ELSE now() END)"
                    " RETURNING next_run_at"
                ),
                {"n": name, "c": collection, "k": kind, "s": json.dumps(settings), "e": every_seconds},
            )
            next_run_at = row.scalar()
    except IntegrityError:
        raise SourceStateError(f"a source named {name!r} already exists (see `docsdesk sources`)") from None
    return SourceRecord(
        name, collection, kind, settings, every_seconds=every_seconds, next_run_at=next_run_at
    )


_COLUMNS = (
    "name, collection, kind, settings, last_sync_at, last_seconds, fetched, added, changed,"
    " removed, unchanged, failures, last_error, every_seconds, next_run_at, failing, skipped"
)


def _record(row: Any) -> SourceRecord:
    (
        name,
        collection,
        kind,
        settings,
        at,
        seconds,
        fetched,
        added,
        changed,
        removed,
        unchanged,
        failures,
        error,
        every,
        next_run_at,
        failing,
        skipped,
    ) = row
    last = None
    if at is not None:
        last = SyncCounts(
            fetched or 0,
            unchanged or 0,
            added or 0,
            changed or 0,
            removed or 0,
            [Failure(f["key"], f["error"]) for f in failures or []],
            seconds or 0.0,
            [Failure(f["key"], f["error"]) for f in skipped or []],
        )
    return SourceRecord(
        name, collection, kind, dict(settings or {}), at, last, error, every, next_run_at, failing
    )


async def list_sources(engine: AsyncEngine) -> list[SourceRecord]:
    async with engine.connect() as conn:
        rows = await conn.execute(text(f"SELECT {_COLUMNS} FROM docs_sources ORDER BY name"))
        return [_record(row) for row in rows]


async def get_source(engine: AsyncEngine, name: str) -> SourceRecord:
    async with engine.connect() as conn:
        row = (
            await conn.execute(text(f"SELECT {_COLUMNS} FROM docs_sources WHERE name = :n"), {"n": name})
        ).first()
    if row is None:
        raise SourceStateError(f"no source named {name[:80]!r} (see `docsdesk sources`)")
    return _record(row)


async def known_documents(engine: AsyncEngine, record: SourceRecord) -> dict[str, Known]:
    """The versions the last sync recorded, for documents the collection still holds."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT v.key, v.url, v.version, v.links FROM docs_source_documents v"
                " JOIN docs_documents d ON d.collection = :c AND d.root = :r AND d.source_path = v.key"
                " WHERE v.source = :n"
            ),
            {"c": record.collection, "r": record.root, "n": record.name},
        )
        return {
            key: Known(url, version, tuple(links) if links is not None else None)
            for key, url, version, links in rows
        }


async def save_sync(engine: AsyncEngine, name: str, counts: SyncCounts, documents: dict[str, Known]) -> None:
    """Record a finished sync: its counts and failures, and the versions of the documents it
    saw (those it did not see are forgotten, as ingestion removed them)."""
    failures = [{"key": f.key, "error": f.error} for f in counts.failures[:MAX_FAILURES_KEPT]]
    skipped = [{"key": f.key, "error": f.error} for f in counts.skipped[:MAX_FAILURES_KEPT]]
    rows = [
        {
            "n": name,
            "k": key,
            "u": known.url,
            "v": known.version,
            "l": json.dumps(list(known.links)) if known.links is not None else None,
        }
        for key, known in documents.items()
    ]
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM docs_source_documents WHERE source = :n"), {"n": name})
        if rows:
            await conn.execute(
                text(
                    "INSERT INTO docs_source_documents (source, key, url, version, links)"
                    " VALUES (:n, :k, :u, :v, CAST(:l AS jsonb))"
                ),
                rows,
            )
        await conn.execute(
            text(
                "UPDATE docs_sources SET last_sync_at = now(), last_seconds = :s, fetched = :fe,"
                " added = :a, changed = :ch, removed = :r, unchanged = :u, failed = :fa,"
                " failures = CAST(:f AS jsonb), skipped = CAST(:sk AS jsonb), last_error = NULL,"
                " failing = 0 WHERE name = :n"
            ),
            {
                "n": name,
                "s": counts.seconds,
                "fe": counts.fetched,
                "a": counts.added,
                "ch": counts.changed,
                "r": counts.removed,
                "u": counts.unchanged,
                "fa": counts.failed,
                "f": json.dumps(failures),
                "sk": json.dumps(skipped),
            },
        )


async def remove_source(engine: AsyncEngine, name: str) -> int:
    """Forget the source `name` and remove its documents from its collection; how many."""
    from rag.schema import compact_lexeme_counts

    record = await get_source(engine, name)
    async with engine.begin() as conn:
        removed = await conn.execute(
            text("DELETE FROM docs_documents WHERE collection = :c AND root = :r"),
            {"c": record.collection, "r": record.root},
        )
        await conn.execute(text("DELETE FROM docs_sources WHERE name = :n"), {"n": name})
        await compact_lexeme_counts(conn, record.collection)
    return int(removed.rowcount or 0)


async def save_error(engine: AsyncEngine, name: str, error: str, seconds: float) -> None:
    """Record a sync that failed as a whole (the previous versions stay)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE docs_sources SET last_sync_at = now(), last_seconds = :s, last_error = :e,"
                " failing = failing + 1 WHERE name = :n"
            ),
            {"n": name, "e": error[:1000], "s": seconds},
        )


FAILING_AFTER = 3  # syncs in a row that failed: the source shows on /readyz and in metrics


async def failing_sources(engine: AsyncEngine, after: int = FAILING_AFTER) -> list[tuple[str, int, str]]:
    """(name, syncs failed in a row, last error) of the sources whose last `after` or more
    syncs failed as a whole."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT name, failing, coalesce(last_error, '') FROM docs_sources"
                " WHERE failing >= :a ORDER BY name"
            ),
            {"a": after},
        )
        return [(name, int(failing), error) for name, failing, error in rows]
