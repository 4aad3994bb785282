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

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from docsdesk.core.context import DEFAULT_ASSISTANT
from docsdesk.core.errors import ApiError
from docsdesk.http.deps import Limits, ServicesDep, SettingsDep
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
    channel: str | None = None,
) -> Scope:
    """The report's scope from the query (`days`, `tenant`, `collection`, `channel`); 400
    naming a bad one."""
    n = check_scope(days, tenant, collection)
    channels = check_channel(channel)
    with database_errors():
        name = collection or await services.assistants.get(DEFAULT_ASSISTANT).collection.name()
    return Scope(collection=name, days=n, tenant=tenant, channel=channels)


ReportScope = Annotated[Scope, Depends(report_scope)]
router = APIRouter()
api = APIRouter(prefix="/admin/api", dependencies=[Depends(authorise)])


@router.get("/admin", include_in_schema=False)
async def console() -> HTMLResponse:
    html, csp = await asyncio.to_thread(console_page)
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, **CONSOLE_HEADERS})


@api.get("/info")
async def info(services: ServicesDep, settings: SettingsDep) -> JSONResponse:
    with database_errors():
        collection = await services.assistants.get(DEFAULT_ASSISTANT).collection.name()
        trigram = await trigram_available(services.database.engine)
    return JSONResponse(
        {
            "auth_mode": settings.auth_mode,
            "collection": collection,
            "record_turns": settings.record_turns,
            "retention_days": settings.retention_days,
            "trigram": trigram,
            "tenant_claim": tenant_claim(settings),
        }
    )


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
        services, q.get("days"), q.get("tenant"), q.get("collection"), q.get("channel")
    )
    chunks = export(services.database.engine, scope, fmt, of)
    with database_errors():  # the first batch is read before answering 200
        first = await anext(chunks, "")
    return StreamingResponse(
        chained(first, chunks),
        media_type=f"{FORMATS[fmt]}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="docsdesk-{"tickets-" if of == "tickets" else ""}{scope.collection}-{scope.days}d.{fmt}"',
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
async def search(services: ServicesDep, q: str = "", k: str = "5") -> JSONResponse:
    """What the assistant's search returns for `q`, with scores (the playground's passages)."""
    query, count = check_search(q, k)
    with database_errors():
        collection = await services.assistants.get(DEFAULT_ASSISTANT).collection.name()
        results = await services.search.search(query, k=count, collection=collection)
    return JSONResponse(
        {"query": query, "collection": collection, "results": [search_result(r) for r in results]}
    )


router.include_router(api)
