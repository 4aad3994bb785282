"""The job history: old ended jobs are pruned, the newest ended one of a collection and open
jobs never are."""

from __future__ import annotations

import random

from sqlalchemy import text

from docsdesk.jobs.store import JobSpec, get_job, last_ended_jobs, prune_jobs, record_job
from tests.support import new_id


def _ids(n: int) -> list[int]:
    return sorted(random.sample(range(10**12, 2 * 10**12), n))


async def _job(
    engine, job_id: int, collection: str, state: str, days_ago: int | None, kind: str = "upload"
) -> int:
    await record_job(engine, job_id, JobSpec(kind, collection, ()))
    ended = "now() - make_interval(days => :d)" if days_ago is not None else "NULL"
    async with engine.begin() as conn:
        await conn.execute(
            text(f"UPDATE docs_jobs SET state = :s, finished_at = {ended} WHERE id = :i"),
            {"i": job_id, "s": state, "d": days_ago or 0},
        )
    return job_id


async def test_old_ended_jobs_are_pruned_but_the_newest_ended_and_open_ones(database, engine):
    collection, other = new_id("jobs"), new_id("jobs")
    ids = _ids(7)
    states = [("succeeded", 40), ("cancelled", 35), ("failed", 31), ("succeeded", 2), ("queued", None)]
    for job_id, (state, days) in zip(ids, states, strict=False):
        await _job(engine, job_id, collection, state, days)
    lone = await _job(engine, ids[5], other, "succeeded", 60)  # the only ended job of its collection
    other_kind = await _job(engine, ids[6], collection, "succeeded", 90, kind="sync")  # its kind's newest

    assert await prune_jobs(engine) >= 3

    kept = [job_id for job_id in ids[:5] if await get_job(engine, job_id) is not None]
    assert kept == ids[3:5]
    assert await get_job(engine, lone) is not None and await get_job(engine, other_kind) is not None
    assert (await last_ended_jobs(engine, "upload"))[collection].id == ids[3]


async def test_a_recent_history_is_kept(database, engine):
    collection = new_id("jobs")
    first, second = _ids(2)
    await _job(engine, first, collection, "failed", 3)
    await _job(engine, second, collection, "succeeded", 1)
    await prune_jobs(engine)
    assert await get_job(engine, first) is not None
