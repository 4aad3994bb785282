"""Health and readiness probes: GET /healthz (the process answers) and GET /readyz (database
reachable, schema at head, search index state, sources that keep failing)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.core.database import current_revision, head_revision
from rag.source_state import failing_sources

READINESS_TIMEOUT_SECONDS = 2.0


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: database reachable, schema at head, search index state; 503 when not ready."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return JSONResponse({"status": "not_ready", "components": {}}, status_code=503)
    components = await readiness(services.database.engine, services.search)
    # An empty index or a source failing to sync still serves: reported, not fatal.
    ready = all(c["status"] in ("ok", "empty", "failing") for c in components.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "components": components},
        status_code=200 if ready else 503,
    )


async def readiness(engine: AsyncEngine, search: Any) -> dict[str, dict[str, Any]]:
    """Each component's state; a check that cannot run because the database is down says so."""
    components: dict[str, dict[str, Any]] = {}
    try:
        await asyncio.wait_for(_select_one(engine), READINESS_TIMEOUT_SECONDS)
        components["database"] = {"status": "ok"}
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        components["database"] = {"status": "error", "error": _one_line(exc)}
        components["migrations"] = {"status": "unknown"}
        components["search"] = {"status": "unknown"}
        return components
    try:
        head = await _head_revision()
        current = await asyncio.wait_for(current_revision(engine), READINESS_TIMEOUT_SECONDS)
        components["migrations"] = {
            "status": "ok" if current == head else "error",
            "current": current,
            "head": head,
        }
    except Exception as exc:  # noqa: BLE001
        components["migrations"] = {"status": "error", "error": _one_line(exc)}
    try:
        stats = await asyncio.wait_for(search.stats(), READINESS_TIMEOUT_SECONDS)
        components["search"] = {
            # An empty index still serves (answers say nothing was found): reported, not fatal.
            "status": "ok" if stats.get("chunks") else "empty",
            "chunks": stats.get("chunks"),
            "vector": bool(stats.get("vector")),
        }
    except Exception as exc:  # noqa: BLE001
        components["search"] = {"status": "error", "error": _one_line(exc)}
    components["sources"] = await _sources(engine)
    return components


async def _sources(engine: AsyncEngine) -> dict[str, Any]:
    """The sources whose last FAILING_AFTER or more syncs failed as a whole (rag.source_state)."""
    try:
        failing = await asyncio.wait_for(failing_sources(engine), READINESS_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001
        return {"status": "error", "error": _one_line(exc)}
    if not failing:
        return {"status": "ok"}
    return {
        "status": "failing",
        "failing": [
            {"source": name, "failed_in_a_row": count, "error": error[:300]} for name, count, error in failing
        ],
    }


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


_head: dict[str, str | None] = {}


async def _head_revision() -> str | None:
    # Reading the migration scripts is file I/O: once per process, off the event loop.
    if "head" not in _head:
        _head["head"] = await asyncio.to_thread(head_revision)
    return _head["head"]


def _one_line(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()
    return message[0][:300] if message else type(exc).__name__
