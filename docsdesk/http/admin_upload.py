"""`POST /admin/api/collections/{name}/upload`: a .tar.gz of a docs folder (the request body,
streamed to a temporary file, at most rag.upload.MAX_UPLOAD_BYTES), checked and ingested into
the collection (rag.upload); the answer is the ingest's summary."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import IO

from fastapi import Request
from fastapi.responses import JSONResponse

from docsdesk.core.errors import ApiError
from docsdesk.http.deps import Services
from docsdesk.insights.admin import database_errors
from rag.ingest import IngestBusy, IngestError
from rag.source_state import SourceStateError, check_name
from rag.upload import MAX_UPLOAD_BYTES, UploadRefused, ingest_upload

GZIP_MAGIC = b"\x1f\x8b"


def _too_large() -> ApiError:
    return ApiError(413, "upload_too_large", f"the archive is larger than {MAX_UPLOAD_BYTES} bytes")


async def _receive(request: Request, file: IO[bytes]) -> None:
    """Stream the body into `file`: 413 past the limit, 400 unless it starts as gzip."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        raise _too_large()
    received = 0
    async for chunk in request.stream():
        if received == 0 and chunk and not chunk.startswith(GZIP_MAGIC[: len(chunk)]):
            raise ApiError(400, "invalid_archive", "the body must be a .tar.gz archive")
        received += len(chunk)
        if received > MAX_UPLOAD_BYTES:
            raise _too_large()
        await asyncio.to_thread(file.write, chunk)
    if received == 0:
        raise ApiError(400, "invalid_archive", "the body is empty: send a .tar.gz archive")
    await asyncio.to_thread(file.flush)


async def upload_collection(
    services: Services, request: Request, name: str, base_url: str, url_style: str
) -> JSONResponse:
    try:
        check_name(name, "collection")
    except SourceStateError as exc:
        raise ApiError(400, "invalid_collection", str(exc)) from None
    with tempfile.NamedTemporaryFile(prefix="docsdesk-upload-", suffix=".tar.gz") as file:
        await _receive(request, file)
        try:
            with database_errors():
                summary = await ingest_upload(
                    services.database.engine,
                    Path(file.name),
                    name,
                    base_url=base_url,
                    url_style=url_style,
                    embedder=services.search.embedder,
                )
        except UploadRefused as exc:
            code = "upload_too_large" if exc.status == 413 else "invalid_archive"
            raise ApiError(exc.status, code, str(exc)) from None
        except IngestBusy as exc:
            raise ApiError(409, "ingest_running", str(exc), {"Retry-After": "30"}) from None
        except IngestError as exc:
            raise ApiError(400, "cannot_ingest", str(exc)) from None
    return JSONResponse(
        {
            "collection": name,
            "added": summary.added,
            "changed": summary.changed,
            "removed": summary.removed,
            "unchanged": summary.unchanged,
            "chunks": summary.chunks,
            "skipped": summary.skipped,
            "seconds": round(summary.seconds, 3),
            "summary": summary.describe(),
        }
    )
