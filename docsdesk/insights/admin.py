"""The admin API (`/admin/api/*`) and the console page (`/admin`).

Mounted only when DOCSDESK_ADMIN_TOKEN is set; otherwise those paths are unknown routes (404
in the documented error shape). Every API call needs `Authorization: Bearer <admin token>`,
compared in constant time; readers' tokens are never accepted here (no reader credential is
consulted at all).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse

from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.insights.conversation import conversation
from docsdesk.insights.export import FORMATS, check_format, export
from docsdesk.insights.report import Scope, build_report, check_days, trigram_available
from docsdesk.ops.outage import outage_kind, unavailable

MAX_SEARCH_CHARS = 500
_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@contextmanager
def _database() -> Iterator[None]:
    """A database that is down or saturated is a 503 with Retry-After, not a 500."""
    try:
        yield
    except Exception as exc:
        if outage_kind(exc) is None:
            raise
        raise unavailable() from None


async def _chained(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for chunk in rest:
        yield chunk


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def console_page() -> tuple[str, str]:
    """(the console HTML, its Content-Security-Policy): the inline script and style are
    allowed by their hashes, nothing else inline, nothing from elsewhere."""
    html = files("docsdesk.static").joinpath("admin.html").read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        return " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
            for body in re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
        )

    csp = (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return html, csp


def install_admin(app: FastAPI, settings: Settings) -> None:
    """Add the console and the admin API when an admin token is configured."""
    if settings.admin_token is None:
        return
    expected = _digest(settings.admin_token.get_secret_value())
    router = APIRouter()

    def authorise(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        # Hash both sides so the compare is constant-time whatever the lengths.
        if scheme.lower() != "bearer" or not hmac.compare_digest(_digest(token.strip()), expected):
            raise ApiError(
                401,
                "invalid_admin_token",
                "this endpoint needs Authorization: Bearer <DOCSDESK_ADMIN_TOKEN>",
                {"WWW-Authenticate": 'Bearer realm="docsdesk-admin"'},
            )

    async def scope_of(
        request: Request, days: str | None, tenant: str | None, collection: str | None
    ) -> Scope:
        try:
            n = check_days(days if days is not None else 30)
        except ValueError as exc:
            raise ApiError(400, "invalid_days", str(exc)) from None
        if tenant is not None and not 1 <= len(tenant.strip()) <= 256:
            raise ApiError(400, "invalid_tenant", "tenant must be 1-256 characters")
        if collection is not None and not _ID.fullmatch(collection):
            raise ApiError(400, "invalid_collection", "collection must be 1-128 letters, digits, _ or -")
        services = request.app.state.services
        with _database():
            name = collection or await services.server.collection.name()
        return Scope(collection=name, days=n, tenant=tenant)

    def engine_of(request: Request):
        return request.app.state.services.database.engine

    @router.get("/admin", include_in_schema=False)
    async def console() -> HTMLResponse:
        html, csp = await asyncio.to_thread(console_page)
        return HTMLResponse(
            html,
            headers={
                "Content-Security-Policy": csp,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
            },
        )

    @router.get("/admin/api/info")
    async def info(request: Request) -> JSONResponse:
        authorise(request)
        services = request.app.state.services
        with _database():
            collection = await services.server.collection.name()
            trigram = await trigram_available(engine_of(request))
        return JSONResponse(
            {
                "auth_mode": settings.auth_mode,
                "collection": collection,
                "record_turns": settings.record_turns,
                "retention_days": settings.retention_days,
                "trigram": trigram,
                # Where tenants come from, if anywhere: the console then offers a tenant filter.
                "tenant_claim": (
                    settings.jwt_tenant_claim
                    if settings.auth_mode == "jwt"
                    else "X-Tenant-ID"
                    if settings.auth_mode == "trusted-header"
                    else None
                ),
            }
        )

    @router.get("/admin/api/report")
    async def report(
        request: Request, days: str | None = None, tenant: str | None = None, collection: str | None = None
    ) -> JSONResponse:
        authorise(request)
        scope = await scope_of(request, days, tenant, collection)
        with _database():
            return JSONResponse(await build_report(engine_of(request), scope))

    @router.get("/admin/api/export")
    async def export_(
        request: Request,
        format: str = "jsonl",
        days: str | None = None,
        tenant: str | None = None,
        collection: str | None = None,
    ) -> StreamingResponse:
        authorise(request)
        try:
            fmt = check_format(format)
        except ValueError as exc:
            raise ApiError(400, "invalid_format", str(exc)) from None
        scope = await scope_of(request, days, tenant, collection)
        filename = f"docsdesk-{scope.collection}-{scope.days}d.{fmt}"
        chunks = export(engine_of(request), scope, fmt)
        with _database():  # the first batch is read before answering 200
            first = await anext(chunks, "")
        return StreamingResponse(
            _chained(first, chunks),
            media_type=f"{FORMATS[fmt]}; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )

    @router.get("/admin/api/conversations/{thread_id}")
    async def conversation_(request: Request, thread_id: str, tenant: str | None = None) -> JSONResponse:
        authorise(request)
        if not _ID.fullmatch(thread_id):
            raise ApiError(400, "invalid_thread_id", "thread ids are 1-128 letters, digits, _ or -")
        with _database():
            found = await conversation(engine_of(request), thread_id, tenant)
        if found is None:
            raise ApiError(404, "not_found", f"no conversation {thread_id}")
        return JSONResponse(found)

    @router.get("/admin/api/search")
    async def search(request: Request, q: str = "", k: str = "5") -> JSONResponse:
        """What the assistant's search returns for `q`, with scores (the playground's passages)."""
        authorise(request)
        query = " ".join(q.split())
        if not query:
            raise ApiError(400, "invalid_query", "q (the search text) is required")
        if len(query) > MAX_SEARCH_CHARS:
            raise ApiError(400, "invalid_query", f"q is longer than {MAX_SEARCH_CHARS} characters")
        if not k.isdigit() or not 1 <= int(k) <= 20:
            raise ApiError(400, "invalid_k", "k must be a whole number from 1 to 20")
        services = request.app.state.services
        with _database():
            collection = await services.server.collection.name()
            results = await services.search.search(query, k=int(k), collection=collection)
        return JSONResponse(
            {
                "query": query,
                "collection": collection,
                "results": [_result(r) for r in results],
            }
        )

    app.include_router(router)


def _result(result: Any) -> dict[str, Any]:
    return {
        "title": result.title,
        "heading_path": list(result.heading_path),
        "url": result.url,
        "score": result.score,
        "snippet": result.snippet,
        "text": result.text[:1500],
    }
