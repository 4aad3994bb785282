"""Adding a named source and syncing it: the source is built from its recorded settings and
the versions of its documents the last sync left, ingested (rag.ingest: only what changed is
re-chunked, what disappeared is removed), and the new versions and counts recorded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from rag.embeddings import Embedder
from rag.git_source import GitSettings, GitSource
from rag.ingest import IngestError, ingest_sources
from rag.site_source import SiteSettings, SiteSource
from rag.source_state import (
    Known,
    SourceRecord,
    SourceStateError,
    SyncCounts,
    add_source,
    get_source,
    known_documents,
    save_error,
    save_sync,
)
from rag.sources import SourceError

KINDS = ("site", "git")


def checked_settings(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings of a new source of `kind`, validated (SourceError naming the problem)."""
    if kind == "site":
        return SiteSettings.from_dict(settings).to_dict()
    if kind == "git":
        return GitSettings.from_dict(settings).__dict__.copy()
    raise SourceError(f"unknown source kind {kind!r}; expected one of {', '.join(KINDS)}")


async def create_source(
    engine: AsyncEngine,
    name: str,
    collection: str,
    kind: str,
    settings: dict[str, Any],
    every_seconds: int | None = None,
) -> SourceRecord:
    try:
        checked = checked_settings(kind, settings)
    except SourceError as exc:
        raise SourceStateError(str(exc)) from None
    return await add_source(engine, name, collection, kind, checked, every_seconds)


def build_source(record: SourceRecord, known: dict[str, Known], cache_dir: Path) -> SiteSource | GitSource:
    if record.kind == "site":
        return SiteSource(record.root, SiteSettings.from_dict(record.settings), known)
    if record.kind == "git":
        return GitSource(record.root, GitSettings.from_dict(record.settings), known, cache_dir)
    raise SourceError(f"source {record.name!r} has an unknown kind {record.kind!r}")


async def sync_source(
    engine: AsyncEngine,
    name: str,
    *,
    cache_dir: Path,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> SyncCounts:
    """Bring the source's collection in line with what the source holds now; one sync per
    collection at a time (rag.ingest's lock). A failure of the whole sync is recorded and
    raised as IngestError; a document's failure is listed and the sync goes on."""
    record = await get_source(engine, name)
    started = time.perf_counter()
    try:
        source = build_source(record, await known_documents(engine, record), cache_dir)
        anchor_style = record.settings.get("url_style", "mkdocs")
        summary = await ingest_sources(
            engine,
            [source],
            collection=record.collection,
            anchor_style=anchor_style,
            embedder=embedder,
            progress=progress,
        )
    except (IngestError, SourceError) as exc:
        await save_error(engine, name, str(exc), time.perf_counter() - started)
        raise IngestError(f"source {name!r}: {exc}") from None
    counts = SyncCounts(
        fetched=source.fetched,
        unchanged=summary.unchanged,
        added=summary.added,
        changed=summary.changed,
        removed=summary.removed,
        failures=list(source.failures),
        seconds=time.perf_counter() - started,
        skipped=list(source.skipped) if isinstance(source, SiteSource) else [],
    )
    await save_sync(engine, name, counts, source.seen)
    return counts
