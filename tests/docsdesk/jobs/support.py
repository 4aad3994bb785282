"""Real `docsdesk worker` processes against the session database, and waiting for jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from docsdesk.jobs.store import JobRecord, get_job

REPO = Path(__file__).resolve().parents[3]


def start_worker(database_url: str, data_dir: Path, *args: str) -> subprocess.Popen:
    log = open(data_dir / f"worker-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115 - closed by stop_worker
    process = subprocess.Popen(
        [sys.executable, "-m", "docsdesk", "worker", "--heartbeat", "2", "--schedule-poll", "1", *args],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": database_url, "DOCSDESK_DATA_DIR": str(data_dir)},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log = log  # type: ignore[attr-defined]
    return process


def stop_worker(process: subprocess.Popen) -> str:
    """SIGTERM (if still running), wait, and the worker's output."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    log = process.log  # type: ignore[attr-defined]
    log.seek(0)
    output = log.read()
    log.close()
    return output


async def wait_for_job(engine, job_id: int, states: tuple[str, ...], within: float = 60) -> JobRecord:
    deadline = time.monotonic() + within
    while True:
        job = await get_job(engine, job_id)
        if job is not None and job.state in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job and job.to_json()}, not {states}")
        await asyncio.sleep(0.2)


async def chunk_counts(engine, collection: str) -> tuple[int, int, int]:
    """(documents, chunks, distinct (document, ordinal)) of a collection."""
    async with engine.connect() as conn:
        documents = (
            await conn.execute(
                text("SELECT count(*) FROM docs_documents WHERE collection = :c"), {"c": collection}
            )
        ).scalar_one()
        chunks, distinct = (
            await conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT (document_id, ordinal)) FROM docs_chunks WHERE collection = :c"
                ),
                {"c": collection},
            )
        ).one()
    return int(documents), int(chunks), int(distinct)


async def until(condition, within: float = 60, every: float = 0.1) -> None:
    """Wait until `condition()` (sync or async) is true; AssertionError after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(every)
