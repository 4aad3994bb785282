"""`GET /admin/api/sources`: every source of every collection for the console's Sources view:
its kind and origin, the assistants answering from its collection, its last sync (when, how
long, counts), the per-document failures and the pages it skipped (robots.txt), its schedule,
its failing streak and the sync job queued or running for it, with that job's progress.

Documents of a collection that no named source brought (a folder ingested with `docsdesk
ingest`, or uploaded) are listed as the collection's `folder` source: it is not synced, but
it lists the collection's upload jobs queued or running (with their progress: files done of
total) and the result of its last upload that ran (when, the counts, the files that failed).
Every job listed has the URL that cancels it.

Included in the admin API router (docsdesk.http.admin), so the admin token is required; the
admin token sees every collection, and `assistant` narrows the list to one assistant's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.http.deps import Services, ServicesDep
from docsdesk.insights.admin import database_errors
from docsdesk.jobs.store import JobRecord, last_ended_jobs, open_jobs
from rag.source_state import FAILING_AFTER, Failure, SourceRecord, list_sources

router = APIRouter()


@router.get("/sources")
async def sources(
    services: ServicesDep, assistant: Annotated[str | None, Query(max_length=200)] = None
) -> JSONResponse:
    """The sources (and unsynced folder collections), by collection then name."""
    with database_errors():
        served = await served_collections(services, assistant)
        engine = services.database.engine
        records = await list_sources(engine)
        jobs = await open_jobs(engine)
        folders = await folder_documents(engine)
        uploaded = await last_ended_jobs(engine, "upload")
    if assistant is not None:
        records = [r for r in records if r.collection in served]
    listed = [source_json(r, served.get(r.collection, []), job_for(r, jobs)) for r in records]
    uploading = [j for j in jobs if j.kind == "upload"]
    for collection in sorted({*folders, *uploaded, *(j.collection for j in uploading)}):
        if assistant is None or collection in served:
            entry = folder_json(collection, served.get(collection, []), folders.get(collection, 0))
            entry["uploads"] = [job_json(j) for j in uploading if j.collection == collection]
            entry["last_upload"] = last_upload_json(uploaded.get(collection))
            listed.append(entry)
    listed.sort(key=lambda s: (s["collection"], s["name"]))
    return JSONResponse({"sources": listed, "failing_after": FAILING_AFTER})


async def served_collections(services: Services, assistant: str | None) -> dict[str, list[str]]:
    """{collection: the assistants answering from it} (only `assistant`'s when given; 404
    naming the assistants for an unknown one)."""
    from docsdesk.http.admin import named_assistant

    registry = services.assistants
    names = [named_assistant(services, assistant).name] if assistant is not None else registry.names()
    served: dict[str, list[str]] = {}
    for name in names:
        for collection in await registry.get(name).collection.names():
            served.setdefault(collection, []).append(name)
    return served


async def folder_documents(engine: AsyncEngine) -> dict[str, int]:
    """{collection: documents not from a named source (a folder ingested or uploaded)}."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT collection, count(*) FROM docs_documents WHERE root NOT LIKE 'source:%'"
                " GROUP BY collection"
            )
        )
        return {collection: int(count) for collection, count in rows}


def job_for(record: SourceRecord, jobs: list[JobRecord]) -> JobRecord | None:
    """The queued or running job that syncs `record` (the oldest, which runs first)."""
    return next(
        (
            j
            for j in jobs
            if j.kind == "sync" and j.collection == record.collection and record.name in j.sources
        ),
        None,
    )


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _documents(items: list[Failure]) -> list[dict[str, str]]:
    return [{"url": item.key, "reason": item.error} for item in items]


def source_json(record: SourceRecord, assistants: list[str], job: JobRecord | None) -> dict[str, Any]:
    last = record.last
    return {
        "name": record.name,
        "collection": record.collection,
        "kind": source_kind(record),
        "origin": source_origin(record),
        "assistants": assistants,
        "syncable": True,
        "every_seconds": record.every_seconds,
        "next_run_at": _when(record.next_run_at) if record.every_seconds else None,
        "last_sync": None
        if last is None
        else {
            "at": _when(record.last_sync_at),
            "seconds": round(last.seconds, 3),
            "fetched": last.fetched,
            "unchanged": last.unchanged,
            "added": last.added,
            "changed": last.changed,
            "removed": last.removed,
            "failed": last.failed,
            "skipped": len(last.skipped),
        },
        "last_error": record.last_error,
        "failing": record.failing,
        "failures": _documents(last.failures) if last else [],
        "skipped": _documents(last.skipped) if last else [],
        "job": None if job is None else job_json(job),
        "uploads": [],
        "last_upload": None,
    }


def folder_json(collection: str, assistants: list[str], documents: int) -> dict[str, Any]:
    """A collection ingested from a folder (or an upload): listed, not synced."""
    return {
        "name": f"{collection} (folder)",
        "collection": collection,
        "kind": "folder",
        "origin": f"{documents} documents ingested with `docsdesk ingest` or uploaded",
        "assistants": assistants,
        "syncable": False,
        "every_seconds": None,
        "next_run_at": None,
        "last_sync": None,
        "last_error": None,
        "failing": 0,
        "failures": [],
        "skipped": [],
        "job": None,
        "uploads": [],
        "last_upload": None,
    }


def job_json(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "url": f"/admin/api/jobs/{job.id}",
        "cancel_url": f"/admin/api/jobs/{job.id}/cancel",
        "state": job.state,
        "attempts": job.attempts,
        "progress": job.progress,
        "error": job.error,
        "created_at": _when(job.created_at),
        "started_at": _when(job.started_at),
    }


UPLOAD_COUNTS = ("added", "changed", "removed", "unchanged", "failed")


def last_upload_json(job: JobRecord | None) -> dict[str, Any] | None:
    """The last upload that ran to an end: when, its state, its counts and the files that
    failed (succeeded), its error (failed), or the newer upload that superseded it."""
    if job is None:
        return None
    result = job.result or {}
    counts = {k: result[k] for k in UPLOAD_COUNTS if isinstance(result.get(k), int)}
    return {
        "job": job.id,
        "url": f"/admin/api/jobs/{job.id}",
        "state": job.state,
        "at": _when(job.finished_at),
        "seconds": result.get("seconds"),
        "counts": counts or None,
        "failures": [str(f) for f in result.get("failures", [])],
        "superseded_by": result.get("superseded_by"),
        "error": job.error,
    }


def source_kind(record: SourceRecord) -> str:
    """sitemap or crawl (a site), git, or the recorded kind."""
    if record.kind == "site":
        return "sitemap" if record.settings.get("sitemap") else "crawl"
    return record.kind


def source_origin(record: SourceRecord) -> str:
    options = record.settings
    if record.kind == "site":
        return str(options.get("sitemap") or options.get("crawl") or "")
    if record.kind == "git":
        path = f" {options['path']}" if options.get("path") else ""
        return f"{options.get('repo')} @ {options.get('ref')}{path}"
    return ""
