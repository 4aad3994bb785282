"""Syncs from CI and the console: `POST /admin/api/collections/{name}/sync` enqueues a sync of
the collection's sources (202 with the job's id; the job already queued or running when there is
one), `GET /admin/api/jobs/{id}` gives its state and progress, `POST /admin/api/jobs/{id}/cancel`
cancels it."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from docsdesk.core.errors import ApiError
from docsdesk.http.deps import Services
from docsdesk.insights.admin import database_errors
from docsdesk.jobs.queue import cancel_job, enqueue_collection_sync
from docsdesk.jobs.store import get_job
from rag.source_state import SourceStateError, check_name

MAX_JOB_ID = 2**63 - 1


def job_id(value: str) -> int:
    if not (0 < len(value) <= 19 and value.isascii() and value.isdigit()) or int(value) > MAX_JOB_ID:
        raise ApiError(400, "invalid_job_id", "a job id is a positive integer")
    return int(value)


async def start_sync(services: Services, name: str, sources: list[str]) -> JSONResponse:
    try:
        check_name(name, "collection")
        for source in sources:
            check_name(source)
    except SourceStateError as exc:
        raise ApiError(400, "invalid_name", str(exc)) from None
    with database_errors():
        try:
            enqueued = await enqueue_collection_sync(services.database.engine, name, sources or None)
        except SourceStateError as exc:
            raise ApiError(404, "no_sources", str(exc)) from None
        job = await get_job(services.database.engine, enqueued.id)
    return JSONResponse(
        {
            "job": enqueued.id,
            "created": enqueued.created,
            "state": job.state if job else "queued",
            "url": f"/admin/api/jobs/{enqueued.id}",
        },
        status_code=202,
        headers={"Location": f"/admin/api/jobs/{enqueued.id}"},
    )


async def show_job(services: Services, value: str) -> JSONResponse:
    identifier = job_id(value)
    with database_errors():
        job = await get_job(services.database.engine, identifier)
    if job is None:
        raise ApiError(404, "not_found", f"no job {identifier}")
    return JSONResponse(job.to_json())


async def cancel(services: Services, value: str) -> JSONResponse:
    identifier = job_id(value)
    with database_errors():
        if await cancel_job(services.database.engine, identifier):
            return JSONResponse({"job": identifier, "state": "cancelled"})
        job = await get_job(services.database.engine, identifier)
    if job is None:
        raise ApiError(404, "not_found", f"no job {identifier}")
    raise ApiError(409, "job_ended", f"job {identifier} has ended ({job.state})")
