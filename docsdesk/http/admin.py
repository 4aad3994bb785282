"""The admin API (`/admin/api/*`) and the console page (`/admin`).

Mounted only when DOCSDESK_ADMIN_TOKEN is set; otherwise those paths are unknown routes (404
in the documented error shape). Every API call needs `Authorization: Bearer <admin token>`,
compared in constant time; readers' tokens are never accepted here (no reader credential is
consulted at all). Limited per client IP (slowapi, docsdesk.ops.ratelimit.ADMIN_LIMIT), and so are failed
authentications (docsdesk.ops.admin_failures).
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from docsdesk.assistant.definition import Assistant
from docsdesk.core.errors import ApiError
from docsdesk.core.settings_error import SettingsError
from docsdesk.http.admin_sources import router as sources_router
from docsdesk.http.admin_terms import router as terms_router
from docsdesk.http.deps import Limits, Services, ServicesDep, SettingsDep
from docsdesk.insights.admin import (
    ID,
    chained,
    check_channel,
    check_scope,
    check_search,
    console_page,
    database_errors,
    digest,
    search_result,
    tenant_claim,
)
from docsdesk.insights.conversation import conversation
from docsdesk.insights.export import FORMATS, check_format, export
from docsdesk.insights.report import Scope, build_report, trigram_available
from docsdesk.ops.admin_failures import count_failure, refuse_guessing_client

CONSOLE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


async def authorise(request: Request, settings: SettingsDep, limits: Limits) -> None:
    """429 for a client IP that guessed too often; the admin token, or 401; then the admin
    rate limit (429)."""
    await refuse_guessing_client(limits, request)
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    # Hash both sides so the compare is constant-time whatever the lengths.
    if (
        not token
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(digest(given.strip()), digest(token))
    ):
        if header:  # a credential was presented: a guess (no header at all is not one)
            await count_failure(limits, request)
        raise ApiError(
            401,
            "invalid_admin_token",
            "this endpoint needs Authorization: Bearer <DOCSDESK_ADMIN_TOKEN>",
            {"WWW-Authenticate": 'Bearer realm="docsdesk-admin"'},
        )
    await limits.check_route("admin", request)


async def report_scope(
    services: ServicesDep,
    days: str | None = None,
    tenant: str | None = None,
    collection: str | None = None,
    assistant: str | None = None,
    channel: str | None = None,
) -> Scope:
    """The report's scope from the query (`days`, `tenant`, `collection`, `assistant`,
    `channel`); 400 naming a bad one, 404 naming the assistants for an unknown one. Neither a
    collection nor an assistant: the default assistant."""
    n = check_scope(days, tenant, collection)
    channels = check_channel(channel)
    if collection is not None and assistant is None:
        return Scope(collection=collection, days=n, tenant=tenant, channel=channels)
    chosen = named_assistant(services, assistant)
    with database_errors():
        served = await chosen.collection.names()
    if collection is None and len(served) == 1:
        collection = served[0]  # the turns it answered from what it serves now (not the demo's)
    return Scope(
        collection=collection, days=n, tenant=tenant, assistant=chosen.name, pages=served, channel=channels
    )


def named_assistant(services: Services, name: str | None) -> Assistant:
    """The assistant `name` (default: the default one); 404 listing the assistants otherwise."""
    registry = services.assistants
    if name is None:
        return registry.get(registry.default)
    if name not in registry.names():
        raise ApiError(
            404,
            "unknown_assistant",
            f"no assistant named {name[:64]!r} (assistants: {', '.join(registry.names())})",
        )
    return registry.get(name)


ReportScope = Annotated[Scope, Depends(report_scope)]
router = APIRouter()
api = APIRouter(prefix="/admin/api", dependencies=[Depends(authorise)])


@router.get("/admin", include_in_schema=False)
async def console() -> HTMLResponse:
    html, csp = await asyncio.to_thread(console_page)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, **CONSOLE_HEADERS})


@api.get("/info")
async def info(services: ServicesDep, settings: SettingsDep) -> JSONResponse:
    registry = services.assistants
    with database_errors():
        served = {name: await registry.get(name).collection.names() for name in registry.names()}
        trigram = await trigram_available(services.database.engine)
    return JSONResponse(
        {
            "auth_mode": settings.auth_mode,
            "collection": served[registry.default][0],
            "assistants": [assistant_info(registry.get(n), served[n], registry.default) for n in served],
            "record_turns": settings.record_turns,
            "retention_days": settings.retention_days,
            "trigram": trigram,
            "tenant_claim": tenant_claim(settings),
        }
    )


def assistant_info(assistant: Assistant, served: tuple[str, ...], default: str) -> dict[str, object]:
    return {
        "name": assistant.name,
        "title": assistant.title or assistant.name,
        "default": assistant.name == default,
        "endpoint": "/chatkit" if assistant.name == default else f"/a/{assistant.name}/chatkit",
        "collections": list(served),
        "model": assistant.model_name,
    }


@api.post("/config/reload")
async def reload_config(services: ServicesDep) -> JSONResponse:
    """Read the config file again (`docsdesk config reload`); 400 naming the problem, and the
    current assistants stay, when it is refused."""
    if services.reload is None:
        raise ApiError(503, "unavailable", "this server cannot reload its assistants", {"Retry-After": "5"})
    try:
        with database_errors():
            config = await services.reload()
    except SettingsError as exc:
        raise ApiError(400, "invalid_config", "; ".join(exc.lines)) from None
    except ValueError as exc:
        raise ApiError(400, "invalid_config", str(exc)) from None
    source = str(config.path) if config.path else "the environment"
    return JSONResponse({"source": source, "assistants": config.names(), "default": config.default})


@api.get("/report")
async def report(services: ServicesDep, scope: ReportScope) -> JSONResponse:
    with database_errors():
        return JSONResponse(await build_report(services.database.engine, scope))


@api.get("/export")
async def export_(
    services: ServicesDep, request: Request, format: str = "jsonl", of: str = "turns"
) -> StreamingResponse:
    try:
        fmt = check_format(format)
    except ValueError as exc:
        raise ApiError(400, "invalid_format", str(exc)) from None
    if of not in ("turns", "tickets"):
        raise ApiError(400, "invalid_export", "of must be turns or tickets")
    q = request.query_params
    scope = await report_scope(
        services, q.get("days"), q.get("tenant"), q.get("collection"), q.get("assistant"), q.get("channel")
    )
    chunks = export(services.database.engine, scope, fmt, of)
    with database_errors():  # the first batch is read before answering 200
        first = await anext(chunks, "")
    return StreamingResponse(
        chained(first, chunks),
        media_type=f"{FORMATS[fmt]}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="docsdesk-{"tickets-" if of == "tickets" else ""}{scope.label}-{scope.days}d.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


@api.get("/conversations/{thread_id}")
async def conversation_(services: ServicesDep, thread_id: str, tenant: str | None = None) -> JSONResponse:
    if not ID.fullmatch(thread_id):
        raise ApiError(400, "invalid_thread_id", "thread ids are 1-128 letters, digits, _ or -")
    with database_errors():
        found = await conversation(services.database.engine, thread_id, tenant)
    if found is None:
        raise ApiError(404, "not_found", f"no conversation {thread_id}")
    return JSONResponse(found)


@api.get("/search")
async def search(
    services: ServicesDep, q: str = "", k: str = "5", assistant: str | None = None, tenant: str = ""
) -> JSONResponse:
    """What the assistant's search returns for `q`, with scores (the playground's passages);
    with `tenant`, as that tenant's readers search (with its own reader terms)."""
    query, count = check_search(q, k)
    check_scope(None, tenant or None, None)
    chosen = named_assistant(services, assistant)
    with database_errors():
        served = await chosen.collection.names()
        results = await services.search.search(query, k=count, collections=served, tenant=tenant)
    return JSONResponse(
        {
            "query": query,
            "assistant": chosen.name,
            "collection": served[0],
            "collections": list(served),
            "results": [search_result(r) for r in results],
        }
    )


@api.post("/collections/{name}/upload")
async def upload(
    services: ServicesDep, request: Request, name: str, base_url: str = "/", url_style: str = "mkdocs"
) -> JSONResponse:
    """A .tar.gz of a docs folder, checked and stored, to be ingested into collection `name` by
    a job: 202 with the job's id (docsdesk.http.admin_upload)."""
    from docsdesk.http.admin_upload import upload_collection

    return await upload_collection(services, request, name, base_url, url_style)


@api.post("/collections/{name}/sync")
async def sync(
    services: ServicesDep, name: str, source: Annotated[list[str] | None, Query()] = None
) -> JSONResponse:
    """Enqueue a sync of the collection's sources (or those named by `source`): 202 with a job
    id (docsdesk.http.admin_jobs)."""
    from docsdesk.http.admin_jobs import start_sync

    return await start_sync(services, name, source or [])


@api.get("/jobs/{job}")
async def job_(services: ServicesDep, job: str) -> JSONResponse:
    """A job's state, attempts, progress and result."""
    from docsdesk.http.admin_jobs import show_job

    return await show_job(services, job)


@api.post("/jobs/{job}/cancel")
async def cancel_job_(services: ServicesDep, job: str) -> JSONResponse:
    from docsdesk.http.admin_jobs import cancel

    return await cancel(services, job)


api.include_router(sources_router)  # GET /admin/api/sources
api.include_router(terms_router)  # /admin/api/collections/{name}/terms: a collection's reader terms
router.include_router(api)
