"""docs_jobs (migration 0012): what docsdesk tells about a job. Its id is the queue's job id;
`state` is queued, running, succeeded, failed or cancelled; `progress` says which source the
job is on and what the sources done so far did; `result` sums them up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

OPEN_STATES = ("queued", "running")


@dataclass(frozen=True)
class JobSpec:
    """What a job does: kind `sync` syncs `sources` (by name) of `collection`; kind `upload`
    ingests the archive stored for the job into `collection` (docsdesk.jobs.uploads)."""

    kind: str
    collection: str
    sources: tuple[str, ...]

    @property
    def dedupe_key(self) -> str:
        return f"{self.kind}:{self.collection}:{','.join(sorted(self.sources))}"

    def payload(self) -> bytes:
        return json.dumps(
            {"kind": self.kind, "collection": self.collection, "sources": list(self.sources)}
        ).encode()

    @classmethod
    def from_payload(cls, data: bytes) -> JobSpec:
        value = json.loads(data)
        return cls(str(value["kind"]), str(value["collection"]), tuple(str(s) for s in value["sources"]))


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    collection: str
    sources: list[str]
    state: str
    attempts: int
    progress: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "kind": self.kind,
            "collection": self.collection,
            "sources": self.sources,
            "state": self.state,
            "attempts": self.attempts,
            "progress": self.progress,
            "result": self.result,
            "error": self.error,
            "created_at": when(self.created_at),
            "started_at": when(self.started_at),
            "finished_at": when(self.finished_at),
        }


_COLUMNS = "id, kind, collection, sources, state, attempts, progress, result, error, created_at, started_at, finished_at"


# An upload job's archive (docsdesk.jobs.uploads), dropped when the job ends.
_DROP_UPLOAD = text("DELETE FROM docs_uploads WHERE job_id = :i")


async def record_job(engine: AsyncEngine, job_id: int, spec: JobSpec) -> None:
    """Record a job just enqueued (a worker that picked it first has recorded it already)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO docs_jobs (id, kind, collection, sources, dedupe_key)"
                " VALUES (:i, :k, :c, CAST(:s AS jsonb), :d) ON CONFLICT (id) DO NOTHING"
            ),
            {
                "i": job_id,
                "k": spec.kind,
                "c": spec.collection,
                "s": json.dumps(spec.sources),
                "d": spec.dedupe_key,
            },
        )


async def open_job(engine: AsyncEngine, spec: JobSpec) -> int | None:
    """The id of the queued or running job doing what `spec` says, if any."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(
                    "SELECT id FROM docs_jobs WHERE dedupe_key = :d AND state IN ('queued', 'running')"
                    " ORDER BY id DESC LIMIT 1"
                ),
                {"d": spec.dedupe_key},
            )
        ).scalar()


async def start_job(engine: AsyncEngine, job_id: int, spec: JobSpec) -> tuple[str, int]:
    """A worker starts (or, after a crash or a retry, restarts) the job: (state before, attempts)."""
    await record_job(engine, job_id, spec)
    async with engine.begin() as conn:
        before = (
            await conn.execute(text("SELECT state FROM docs_jobs WHERE id = :i FOR UPDATE"), {"i": job_id})
        ).scalar()
        if before == "cancelled":
            return "cancelled", 0
        attempts = (
            await conn.execute(
                text(
                    "UPDATE docs_jobs SET state = 'running', attempts = attempts + 1,"
                    " started_at = coalesce(started_at, now()), error = NULL WHERE id = :i RETURNING attempts"
                ),
                {"i": job_id},
            )
        ).scalar_one()
    return str(before), int(attempts)


async def save_progress(engine: AsyncEngine, job_id: int, progress: dict[str, Any]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE docs_jobs SET progress = CAST(:p AS jsonb) WHERE id = :i"),
            {"i": job_id, "p": json.dumps(progress)},
        )


async def finish_job(
    engine: AsyncEngine,
    job_id: int,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Record the job's end (`state` succeeded, failed or cancelled: an upload's archive goes),
    or a failed attempt that will be retried (`state` queued, with its error)."""
    done = "now()" if state != "queued" else "NULL"
    async with engine.begin() as conn:
        await conn.execute(
            text(
                f"UPDATE docs_jobs SET state = :s, result = CAST(:r AS jsonb), error = :e, finished_at = {done}"
                " WHERE id = :i AND state <> 'cancelled'"
            ),
            {"i": job_id, "s": state, "r": json.dumps(result) if result is not None else None, "e": error},
        )
        if state != "queued":
            await conn.execute(_DROP_UPLOAD, {"i": job_id})


async def mark_cancelled(engine: AsyncEngine, job_id: int) -> bool:
    """Cancel a job that has not ended (an upload's archive goes); False when it had (or does
    not exist)."""
    async with engine.begin() as conn:
        row = await conn.execute(
            text(
                "UPDATE docs_jobs SET state = 'cancelled', finished_at = now()"
                " WHERE id = :i AND state IN ('queued', 'running') RETURNING id"
            ),
            {"i": job_id},
        )
        if row.first() is None:
            return False
        await conn.execute(_DROP_UPLOAD, {"i": job_id})
        return True


async def get_job(engine: AsyncEngine, job_id: int) -> JobRecord | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(text(f"SELECT {_COLUMNS} FROM docs_jobs WHERE id = :i"), {"i": job_id})
        ).first()
    return None if row is None else _job(row)


async def open_jobs(engine: AsyncEngine) -> list[JobRecord]:
    """The jobs queued or running, oldest first (the console's "running" state per source)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT {_COLUMNS} FROM docs_jobs WHERE state IN ('queued', 'running') ORDER BY id")
        )
        return [_job(row) for row in rows]


async def last_ended_jobs(engine: AsyncEngine, kind: str) -> dict[str, JobRecord]:
    """{collection: its newest job of `kind` that ran to an end (succeeded or failed)}."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT DISTINCT ON (collection) {_COLUMNS} FROM docs_jobs"
                " WHERE kind = :k AND state IN ('succeeded', 'failed') ORDER BY collection, id DESC"
            ),
            {"k": kind},
        )
        return {job.collection: job for job in map(_job, rows)}


KEEP_ENDED_JOBS = timedelta(days=30)


async def prune_jobs(engine: AsyncEngine, older_than: timedelta = KEEP_ENDED_JOBS) -> int:
    """Delete the jobs that ended more than `older_than` ago and have a newer job of their kind
    and collection that ran to an end: the console's last upload stays, open jobs are never
    pruned; how many."""
    async with engine.begin() as conn:
        deleted = await conn.execute(
            text(
                "DELETE FROM docs_jobs j WHERE state IN ('succeeded', 'failed', 'cancelled')"
                " AND finished_at < now() - make_interval(secs => :s) AND EXISTS (SELECT 1 FROM docs_jobs n"
                " WHERE n.kind = j.kind AND n.collection = j.collection AND n.id > j.id"
                " AND n.state IN ('succeeded', 'failed'))"
            ),
            {"s": older_than.total_seconds()},
        )
        return deleted.rowcount


def _job(row: Any) -> JobRecord:
    values = list(row)
    values[3] = list(values[3] or [])
    values[6] = dict(values[6] or {})
    return JobRecord(*values)
