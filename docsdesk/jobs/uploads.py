"""Uploads as jobs: the .tar.gz POSTed to `/admin/api/collections/{name}/upload` is stored in
PostgreSQL (migration 0014: `docs_uploads`, and the archive in `docs_upload_parts` of PART_BYTES
each) in the transaction that enqueues its job, so any worker that reaches the database runs it;
the blob goes when the job ends (docsdesk.jobs.store.finish_job, mark_cancelled).

Uploads are not deduplicated (each holds other files), but they are ordered: a job that finds a
newer upload to its collection (queued, running or done) once it holds the collection's ingest
lock gives up, superseded, instead of overwriting the newer files with older ones."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pgqueuer import AsyncpgDriver, Queries
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.jobs.queue import queue_connection
from docsdesk.jobs.store import JobSpec, save_progress
from rag.embeddings import Embedder
from rag.ingest_report import IngestSummary
from rag.upload import ingest_upload

UPLOAD_ENTRYPOINT = "docsdesk.upload"
PART_BYTES = 1024 * 1024
MAX_FAILURES_SHOWN = 50


class UploadGone(RuntimeError):
    """The job's archive is not in the database (its job ended, or it was never stored)."""


class Superseded(Exception):
    """A newer upload to the same collection exists: this one is not ingested."""

    def __init__(self, newer: int) -> None:
        super().__init__(f"superseded by job {newer}, a newer upload to the collection")
        self.newer = newer


async def enqueue_upload(
    engine: AsyncEngine, collection: str, archive: Path, base_url: str, url_style: str
) -> int:
    """Enqueue the ingest of `archive` into `collection` and store the archive, in one
    transaction (nothing of it is left when it fails); the job's id."""
    spec = JobSpec("upload", collection, ())
    size = (await asyncio.to_thread(archive.stat)).st_size
    async with queue_connection(engine) as connection, connection.transaction():
        [job_id] = await Queries(AsyncpgDriver(connection)).enqueue(UPLOAD_ENTRYPOINT, spec.payload())
        await connection.execute(
            "INSERT INTO docs_jobs (id, kind, collection, sources, dedupe_key) VALUES ($1, $2, $3, '[]', $4)",
            job_id,
            spec.kind,
            collection,
            spec.dedupe_key,
        )
        await connection.execute(
            "INSERT INTO docs_uploads (job_id, collection, base_url, url_style, bytes) VALUES ($1, $2, $3, $4, $5)",
            job_id,
            collection,
            base_url,
            url_style,
            size,
        )
        with archive.open("rb") as file:
            number = 0
            while part := await asyncio.to_thread(file.read, PART_BYTES):
                await connection.execute(
                    "INSERT INTO docs_upload_parts (job_id, part, data) VALUES ($1, $2, $3)",
                    job_id,
                    number,
                    part,
                )
                number += 1
    return int(job_id)


async def upload_target(engine: AsyncEngine, job_id: int) -> tuple[str, str, int]:
    """(base URL, URL style, archive bytes) of an upload job; UploadGone without its blob."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT base_url, url_style, bytes FROM docs_uploads WHERE job_id = :i"), {"i": job_id}
            )
        ).first()
    if row is None:
        raise UploadGone(f"the archive of job {job_id} is no longer stored")
    return str(row[0]), str(row[1]), int(row[2])


async def read_archive(engine: AsyncEngine, job_id: int, into: Path, size: int) -> None:
    """Write the job's stored archive to `into`, one part at a time."""
    written = 0
    with into.open("wb") as file:
        async with engine.connect() as conn:
            rows = await conn.stream(
                text("SELECT data FROM docs_upload_parts WHERE job_id = :i ORDER BY part"), {"i": job_id}
            )
            async for (data,) in rows:
                await asyncio.to_thread(file.write, data)
                written += len(data)
    if written != size:
        raise UploadGone(f"the archive of job {job_id} is incomplete ({written} of {size} bytes)")


async def newer_upload(engine: AsyncEngine, job_id: int, collection: str) -> int | None:
    """The newest upload job to `collection` after `job_id` that did not fail nor was cancelled."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT max(id) FROM docs_jobs WHERE kind = 'upload' AND collection = :c AND id > :i"
                    " AND state IN ('queued', 'running', 'succeeded')"
                ),
                {"c": collection, "i": job_id},
            )
        ).scalar()


class UploadProgress:
    """The job's progress while it ingests: `update(done, total)` from the ingest (no await),
    saved to docs_jobs every `every` seconds while it changes."""

    def __init__(self, engine: AsyncEngine, job_id: int, every: float = 0.5) -> None:
        self.engine, self.job_id, self.every = engine, job_id, every
        self.value: dict[str, Any] = {"stage": "reading the archive", "files": None, "done": 0}

    def update(self, done: int, total: int | None) -> None:
        self.value = {"stage": "ingesting", "files": total, "done": done}

    async def _loop(self) -> None:
        saved = None
        while True:
            if self.value != saved:
                saved = self.value
                await save_progress(self.engine, self.job_id, saved)
            await asyncio.sleep(self.every)

    @asynccontextmanager
    async def saving(self) -> AsyncIterator[UploadProgress]:
        task = asyncio.create_task(self._loop())
        try:
            yield self
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def run_upload(
    engine: AsyncEngine, job_id: int, collection: str, embedder: Embedder | None
) -> dict[str, Any]:
    """The upload job: its archive, read back from the database, ingested into `collection`;
    the job's result. Raises UploadGone, rag.upload.UploadRefused (the archive cannot be
    ingested: no retry helps) or rag.ingest.IngestError."""
    base_url, url_style, size = await upload_target(engine, job_id)
    progress = UploadProgress(engine, job_id)

    async def still_newest() -> None:
        newer = await newer_upload(engine, job_id, collection)
        if newer is not None:
            raise Superseded(newer)

    try:
        await still_newest()  # before reading the archive; again once the collection is locked
        async with progress.saving():
            with tempfile.TemporaryDirectory(prefix="docsdesk-upload-job-") as scratch:
                archive = Path(scratch) / "upload.tar.gz"
                await read_archive(engine, job_id, archive, size)
                summary = await ingest_upload(
                    engine,
                    archive,
                    collection,
                    base_url=base_url,
                    url_style=url_style,
                    embedder=embedder,
                    report=progress.update,
                    locked=still_newest,
                )
    except Superseded as superseded:
        await save_progress(engine, job_id, {"stage": "superseded", "files": None, "done": 0})
        return {"superseded_by": superseded.newer, "summary": str(superseded)}
    files = summary.added + summary.changed + summary.unchanged + len(summary.skipped)
    await save_progress(engine, job_id, {"stage": "done", "files": files, "done": files})
    return upload_result(summary)


def upload_result(summary: IngestSummary) -> dict[str, Any]:
    failed = len(summary.skipped)  # documents that could not be indexed (over their time budget)
    return {
        "added": summary.added,
        "changed": summary.changed,
        "removed": summary.removed,
        "unchanged": summary.unchanged,
        "failed": failed,
        "failures": summary.skipped[:MAX_FAILURES_SHOWN],
        "chunks": summary.chunks,
        "seconds": round(summary.seconds, 3),
        "summary": (
            f"{summary.added} added, {summary.changed} changed, {summary.removed} removed,"
            f" {summary.unchanged} unchanged, {failed} failed; {summary.chunks} chunks"
            f" in {summary.seconds:.1f} s"
        ),
    }
