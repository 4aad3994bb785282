"""The queue: pgqueuer over its own asyncpg connection (it LISTENs for new jobs and for
cancellations, so it is not one of the SQLAlchemy pool's). A sync is enqueued once: while a job
doing the same (same collection, same sources) is queued or running, enqueueing answers that
job's id (pgqueuer's `dedupe_key`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from pgqueuer import AsyncpgDriver, Queries
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.jobs.store import JobSpec, mark_cancelled, open_job, record_job
from rag.source_state import SourceStateError, list_sources

SYNC_ENTRYPOINT = "docsdesk.sync"


def asyncpg_dsn(engine: AsyncEngine) -> str:
    """The engine's URL as asyncpg takes it (no `+asyncpg` driver suffix)."""
    return (
        make_url(engine.url.render_as_string(hide_password=False))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


@asynccontextmanager
async def queue_connection(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(asyncpg_dsn(engine))
    try:
        yield connection
    finally:
        await connection.close()


@dataclass(frozen=True)
class Enqueued:
    id: int
    created: bool  # False: a job doing the same was already queued or running


async def enqueue(engine: AsyncEngine, queries: Queries, spec: JobSpec) -> Enqueued:
    for _ in range(3):  # the open job may end between the two steps: ask again
        ids = await queries.enqueue(
            SYNC_ENTRYPOINT, spec.payload(), dedupe_key=spec.dedupe_key, on_conflict="skip"
        )
        if ids and ids[0] is not None:
            await record_job(engine, int(ids[0]), spec)
            return Enqueued(int(ids[0]), True)
        existing = await open_job(engine, spec)
        if existing is not None:
            return Enqueued(existing, False)
    raise RuntimeError(f"could not enqueue a sync of {spec.collection!r}")


async def enqueue_collection_sync(
    engine: AsyncEngine, collection: str, sources: list[str] | None = None
) -> Enqueued:
    """Enqueue a sync of the collection's sources (all of them, or those named)."""
    names = sorted(r.name for r in await list_sources(engine) if r.collection == collection)
    if sources:
        unknown = sorted(set(sources) - set(names))
        if unknown:
            raise SourceStateError(f"collection {collection!r} has no source named {unknown[0]!r}")
        names = sorted(set(sources))
    if not names:
        raise SourceStateError(
            f"collection {collection!r} has no sources (add one with `docsdesk sources add`)"
        )
    async with queue_connection(engine) as connection:
        return await enqueue(
            engine, Queries(AsyncpgDriver(connection)), JobSpec("sync", collection, tuple(names))
        )


async def cancel_job(engine: AsyncEngine, job_id: int) -> bool:
    """Cancel a queued or running job (a running one stops at its next await); False when it
    had ended or does not exist."""
    if not await mark_cancelled(engine, job_id):
        return False
    async with queue_connection(engine) as connection:
        await Queries(AsyncpgDriver(connection)).mark_job_as_cancelled([job_id])  # type: ignore[list-item]
    return True
