"""`/admin/api/collections/{name}/terms`: a collection's own reader terms (rag.reader_terms),
the reader phrases its docs team maps to the documentation's words; search uses a change on
its next query, in every server process.

    GET    .../terms[?tenant=T]                   the rows
    POST   .../terms    {"reader", "docs", "tenant"?}  add a row or replace its phrase's terms
    DELETE .../terms?reader=PHRASE[&tenant=T]     remove a phrase's row
    PUT    .../terms[?tenant=T&replace=true]      import a TSV file (the body), all or nothing
    GET    .../terms.tsv[?tenant=T]               export them as a TSV file

`tenant` absent: the rows for every reader of the collection; a tenant's rows reach only its
readers. Included in the admin API router (docsdesk.http.admin): the admin token is required.
A bad row is a 400 naming the problem (for a file: every bad line, in `error.lines`); an
unknown collection (neither indexed nor answered from by an assistant) is a 404.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from docsdesk.core.errors import ApiError
from docsdesk.http.chatkit import read_body
from docsdesk.http.deps import Services, ServicesDep
from docsdesk.insights.admin import database_errors
from docsdesk.ops.access import telemetry_of
from rag.collections import collection_exists
from rag.reader_terms import (
    MAX_FILE_BYTES,
    ReaderTerm,
    ReaderTermError,
    TermFileError,
    add_term,
    checked_name,
    checked_term,
    import_terms,
    list_terms,
    parse_file,
    remove_term,
    to_file,
)

MAX_ROW_BODY_BYTES = 16 * 1024
router = APIRouter()
Tenant = Annotated[str, Query(max_length=300)]


async def scope(services: Services, name: str, tenant: str) -> tuple[str, str]:
    """(collection, tenant) checked: 400 naming a bad one, 404 for an unknown collection."""
    try:
        checked_name(name, "collection")
    except ReaderTermError as exc:
        raise ApiError(400, "invalid_collection", str(exc)) from None
    try:
        checked_name(tenant, "tenant", empty=True)
    except ReaderTermError as exc:
        raise ApiError(400, "invalid_tenant", str(exc)) from None
    registry = services.assistants
    with database_errors():
        served = [c for a in registry.names() for c in await registry.get(a).collection.names()]
        known = name in served or await collection_exists(services.database.engine, name)
    if not known:
        raise ApiError(404, "unknown_collection", f"no collection named {name[:128]!r}")
    return name, tenant


def term_json(row: ReaderTerm) -> dict[str, Any]:
    return {
        "reader": row.reader,
        "docs": list(row.docs),
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


@router.get("/collections/{name}/terms")
async def terms(services: ServicesDep, name: str, tenant: Tenant = "") -> JSONResponse:
    collection, tenant = await scope(services, name, tenant)
    with database_errors():
        rows = await list_terms(services.database.engine, collection, tenant)
    return JSONResponse(
        {"collection": collection, "tenant": tenant, "terms": [term_json(row) for row in rows]}
    )


@router.get("/collections/{name}/terms.tsv")
async def export_terms(services: ServicesDep, name: str, tenant: Tenant = "") -> PlainTextResponse:
    collection, tenant = await scope(services, name, tenant)
    with database_errors():
        rows = await list_terms(services.database.engine, collection, tenant)
    filename = f"{collection}{'-' + tenant if tenant else ''}-terms.tsv"
    disposition = f"attachment; filename*=UTF-8''{_quoted(filename)}"
    return PlainTextResponse(
        to_file(rows),
        media_type="text/tab-separated-values; charset=utf-8",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


def _quoted(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


async def row_of(request: Request) -> tuple[ReaderTerm, str]:
    """(the row, its tenant) of a JSON body {"reader", "docs", "tenant"?}; 400 naming the problem."""
    body = await read_body(request, MAX_ROW_BODY_BYTES, 30)
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body must be a JSON object") from None
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    unknown = sorted(set(document) - {"reader", "docs", "tenant"})
    if unknown:
        raise ApiError(
            400, "invalid_term", f"unknown field {unknown[0][:64]!r} (fields: reader, docs, tenant)"
        )
    for field in ("reader", "docs"):
        if field not in document:
            raise ApiError(400, "invalid_term", f"{field} is required")
    tenant = document.get("tenant", "")
    if not isinstance(tenant, str):
        raise ApiError(400, "invalid_tenant", "tenant must be text")
    try:
        return checked_term(document["reader"], document["docs"]), tenant
    except ReaderTermError as exc:
        raise ApiError(400, "invalid_term", str(exc)) from None


@router.post("/collections/{name}/terms")
async def add(services: ServicesDep, request: Request, name: str) -> JSONResponse:
    """201 with the row when its phrase is new, 200 when it replaced the phrase's terms."""
    row, tenant = await row_of(request)
    collection, tenant = await scope(services, name, tenant)
    try:
        with database_errors():
            added = await add_term(services.database.engine, collection, row, tenant)
    except ReaderTermError as exc:  # the collection is full
        raise ApiError(409, "too_many_terms", str(exc)) from None
    return JSONResponse(
        {"collection": collection, "tenant": tenant, "added": added, "term": term_json(row)},
        status_code=201 if added else 200,
    )


@router.delete("/collections/{name}/terms")
async def remove(
    services: ServicesDep, name: str, reader: Annotated[str, Query(max_length=300)] = "", tenant: Tenant = ""
) -> JSONResponse:
    if not reader.strip():
        raise ApiError(400, "invalid_term", "reader (the phrase to remove) is required")
    collection, tenant = await scope(services, name, tenant)
    with database_errors():
        removed = await remove_term(services.database.engine, collection, reader, tenant)
    if not removed:
        raise ApiError(404, "not_found", f"no reader phrase {reader[:100]!r} in collection {collection!r}")
    return JSONResponse({"collection": collection, "tenant": tenant, "removed": reader})


@router.put("/collections/{name}/terms")
async def import_(
    services: ServicesDep, request: Request, name: str, tenant: Tenant = "", replace: bool = False
) -> JSONResponse:
    """The body is a terms file (TSV, header reader<TAB>docs); every bad line is reported in
    `error.lines` and nothing is written."""
    collection, tenant = await scope(services, name, tenant)
    body = await read_body(request, MAX_FILE_BYTES, 60)
    try:
        rows = parse_file(body)
    except TermFileError as exc:
        telemetry_of(request).error_code = "invalid_terms_file"
        lines = [{"line": n, "problem": problem} for n, problem in exc.problems[:200]]
        error = {"code": "invalid_terms_file", "message": str(exc), "lines": lines}
        return JSONResponse({"error": error}, status_code=400)
    try:
        with database_errors():
            counts = await import_terms(services.database.engine, collection, rows, tenant, replace=replace)
    except ReaderTermError as exc:
        raise ApiError(409, "too_many_terms", str(exc)) from None
    return JSONResponse(
        {
            "collection": collection,
            "tenant": tenant,
            "added": counts.added,
            "replaced": counts.replaced,
            "removed": counts.removed,
        }
    )
