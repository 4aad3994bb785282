"""Running jobs: a pgqueuer QueueManager with the sync and upload entrypoints, and the
schedules of the sources, on any machine that reaches the database (`docsdesk worker`, or in `docsdesk serve`).

- A job is picked by one worker; the worker beats its heartbeat while it runs. A worker that
  dies (killed, its machine gone) stops beating: once the heartbeat is older than
  `heartbeat`, another worker picks the job again (pgqueuer's stale-job re-pick) and it runs
  again from the start. Ingestion is incremental, so what the dead worker already stored is
  kept, nothing is stored twice.
- Never two syncs or uploads of a collection at once: rag.ingest holds a session advisory lock per
  collection for the whole ingest (the dead worker's lock goes with its connection); a job that
  finds the collection busy is put back and retried a few seconds later without counting as an
  attempt.
- A sync that fails is retried MAX_ATTEMPTS times in all, with a growing delay; then the job is
  failed (the error is on the job and on the source). An upload whose archive cannot be
  ingested (rag.upload.UploadRefused), or whose stored archive is gone, fails at once; so does a
  job that raises anything else (a bug: the error is on the job; an upload's archive is dropped).
- A cancelled job stops at its next await (pgqueuer's cancellation NOTIFY cancels its scope).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pgqueuer import AsyncpgDriver, Queries, QueueManager
from pgqueuer.domain.errors import RetryRequested
from pgqueuer.domain.models import Context, Job
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.jobs.queue import SYNC_ENTRYPOINT, enqueue, queue_connection
from docsdesk.jobs.store import KEEP_ENDED_JOBS, JobSpec, finish_job, prune_jobs, save_progress, start_job
from docsdesk.jobs.uploads import UPLOAD_ENTRYPOINT, UploadGone, run_upload
from rag.embeddings import Embedder
from rag.ingest import IngestBusy, IngestError
from rag.source_state import SourceStateError
from rag.source_sync import sync_source
from rag.upload import UploadRefused

log = logging.getLogger("docsdesk.jobs")
MAX_ATTEMPTS = 3
BUSY_DELAY = timedelta(seconds=2)


@dataclass(frozen=True)
class WorkerOptions:
    heartbeat: timedelta = timedelta(seconds=30)  # a job unbeaten this long is picked again
    schedule_poll: float = 30.0  # seconds between looks for sources due
    concurrency: int = 2  # jobs this worker runs at once


class SyncRunner:
    """The sync and upload entrypoints: a sync job syncs its sources one after the other, an
    upload job ingests its stored archive (docsdesk.jobs.uploads)."""

    def __init__(self, engine: AsyncEngine, cache_dir: Path, embedder: Embedder | None) -> None:
        self.engine = engine
        self.cache_dir = cache_dir
        self.embedder = embedder

    async def run(self, job: Job, context: Context) -> None:
        job_id = int(job.id)
        spec = JobSpec.from_payload(job.payload or b"{}")
        before, attempts = await start_job(self.engine, job_id, spec)
        if before == "cancelled":
            return
        with context.cancellation:
            try:
                if spec.kind == "upload":
                    result = await run_upload(self.engine, job_id, spec.collection, self.embedder)
                else:
                    result = await self.sync(job_id, spec)
            except asyncio.CancelledError:
                if context.cancellation.cancel_called:
                    raise  # cancelled by a user: the scope ends it, docs_jobs says so
                # The worker stops (its task cancelled): back to the queue, for another worker.
                await asyncio.shield(finish_job(self.engine, job_id, "queued", error="its worker stopped"))
                raise RetryRequested(delay=timedelta(0), reason="the worker stopped") from None
            except IngestBusy as exc:
                await self._uncount(job_id, str(exc))
                raise RetryRequested(delay=BUSY_DELAY, reason=str(exc)) from None
            except (UploadRefused, UploadGone) as exc:  # the archive cannot be ingested: no retry helps
                await finish_job(self.engine, job_id, "failed", error=str(exc))
                return
            except (IngestError, SourceStateError) as exc:
                if attempts < MAX_ATTEMPTS:
                    await finish_job(self.engine, job_id, "queued", error=f"attempt {attempts}: {exc}")
                    raise RetryRequested(delay=timedelta(seconds=2**attempts), reason=str(exc)) from None
                await finish_job(self.engine, job_id, "failed", error=str(exc))
                return
            except Exception as exc:  # a bug or the database gone: pgqueuer logs it and drops the job
                await finish_job(self.engine, job_id, "failed", error=f"{type(exc).__name__}: {exc}"[:500])
                raise
            await finish_job(self.engine, job_id, "succeeded", result=result)
        # Cancelled: docs_jobs already says so (docsdesk.jobs.queue.cancel_job).

    async def sync(self, job_id: int, spec: JobSpec) -> dict[str, object]:
        done: dict[str, dict[str, object]] = {}
        for name in spec.sources:
            await save_progress(
                self.engine, job_id, {"source": name, "sources": len(spec.sources), "done": done}
            )
            counts = await sync_source(self.engine, name, cache_dir=self.cache_dir, embedder=self.embedder)
            done[name] = {
                "fetched": counts.fetched,
                "unchanged": counts.unchanged,
                "added": counts.added,
                "changed": counts.changed,
                "removed": counts.removed,
                "failed": counts.failed,
                "skipped": len(counts.skipped),
                "seconds": round(counts.seconds, 3),
                "summary": counts.describe(),
            }
        await save_progress(self.engine, job_id, {"source": None, "sources": len(spec.sources), "done": done})
        return {"sources": done}

    async def _uncount(self, job_id: int, error: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE docs_jobs SET state = 'queued', attempts = attempts - 1, error = :e WHERE id = :i"
                ),
                {"i": job_id, "e": f"waiting: {error}"},
            )


async def fire_schedules(engine: AsyncEngine) -> int:
    """Enqueue a sync of each source whose next run is due and move its next run on; how many.
    The sources due are locked (SKIP LOCKED) until enqueued: two workers never both fire one,
    and a crash before the commit leaves them due (enqueueing again is answered the same job)."""
    fired = 0
    async with engine.begin() as conn:
        rows = await conn.execute(
            text(
                "UPDATE docs_sources SET next_run_at = now() + make_interval(secs => every_seconds)"
                " WHERE name IN (SELECT name FROM docs_sources WHERE every_seconds IS NOT NULL"
                " AND next_run_at <= now() FOR UPDATE SKIP LOCKED) RETURNING name, collection"
            )
        )
        due = list(rows)
        if due:
            async with queue_connection(engine) as connection:
                queries = Queries(AsyncpgDriver(connection))
                for name, collection in due:
                    await enqueue(engine, queries, JobSpec("sync", collection, (name,)))
                    fired += 1
    return fired


PRUNE_EVERY = 3600.0  # seconds between two prunings of old job rows by one worker


async def _schedule_loop(engine: AsyncEngine, every: float) -> None:
    pruned_at = -PRUNE_EVERY
    while True:
        try:
            fired = await fire_schedules(engine)
            if fired:
                log.info("docsdesk: %d scheduled syncs enqueued", fired)
            if time.monotonic() - pruned_at >= PRUNE_EVERY:
                pruned_at = time.monotonic()
                if pruned := await prune_jobs(engine):
                    log.info("docsdesk: %d jobs older than %s pruned", pruned, KEEP_ENDED_JOBS)
        except Exception:  # the database away for a moment: try again next round
            log.warning("docsdesk: could not fire the sources' schedules", exc_info=True)
        await asyncio.sleep(every)


async def run_until_cancelled(
    engine: AsyncEngine,
    cache_dir: Path,
    embedder: Embedder | None,
    options: WorkerOptions | None = None,
    grace: float = 10.0,
) -> None:
    """A worker inside another service (`docsdesk serve`): when its task is cancelled it stops
    taking jobs and lets the running ones finish for `grace` seconds; those still running then
    go back to the queue. A failure (the database away) is logged and the worker started again."""
    stop = asyncio.Event()
    while not stop.is_set():
        running = asyncio.create_task(run_worker(engine, cache_dir, embedder, stop, options))
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            stop.set()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(running), grace)
            running.cancel()
            with contextlib.suppress(BaseException):
                await running
            raise
        except Exception:
            log.warning("docsdesk: the in-process worker failed; starting it again in 10 s", exc_info=True)
            await asyncio.sleep(10)


async def run_worker(
    engine: AsyncEngine,
    cache_dir: Path,
    embedder: Embedder | None,
    stop: asyncio.Event,
    options: WorkerOptions | None = None,
) -> None:
    """Run jobs and fire schedules until `stop` is set (jobs running then are let finish... by
    pgqueuer's shutdown, which cancels them: another worker picks them again)."""
    options = options or WorkerOptions()
    async with queue_connection(engine) as connection:
        manager = QueueManager(Queries(AsyncpgDriver(connection)))
        runner = SyncRunner(engine, cache_dir, embedder)
        for entrypoint in (SYNC_ENTRYPOINT, UPLOAD_ENTRYPOINT):
            manager.entrypoint(entrypoint, accepts_context=True)(runner.run)
        scheduler = asyncio.create_task(_schedule_loop(engine, options.schedule_poll))

        async def stopper() -> None:
            await stop.wait()
            manager.shutdown.set()

        watcher = asyncio.create_task(stopper())
        try:
            await manager.run(
                batch_size=1,
                max_concurrent_tasks=max(options.concurrency, 2),
                heartbeat_timeout=options.heartbeat,
                dequeue_timeout=timedelta(seconds=5),
            )
        finally:
            for task in (scheduler, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
