"""`POST /admin/api/collections/{name}/upload`: a .tar.gz of a docs folder (the request body,
streamed to a temporary file, at most rag.upload.MAX_UPLOAD_BYTES), its members checked
(rag.upload: a hostile or empty archive is a 4xx naming the problem, nothing stored), then
stored with the job that ingests it into the collection (docsdesk.jobs.uploads): 202 with the
job's id, whose progress and summary `GET /admin/api/jobs/{id}` gives."""

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
from docsdesk.jobs.uploads import enqueue_upload
from rag.source_state import SourceStateError, check_name
from rag.upload import MAX_UPLOAD_BYTES, UploadRefused, check_archive, check_target

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
    try:
        check_target(base_url, url_style)
    except UploadRefused as exc:
        raise ApiError(400, "invalid_parameter", str(exc)) from None
    with tempfile.NamedTemporaryFile(prefix="docsdesk-upload-", suffix=".tar.gz") as file:
        await _receive(request, file)
        try:
            await asyncio.to_thread(check_archive, Path(file.name))
        except UploadRefused as exc:
            code = "upload_too_large" if exc.status == 413 else "invalid_archive"
            raise ApiError(exc.status, code, str(exc)) from None
        with database_errors():
            job = await enqueue_upload(services.database.engine, name, Path(file.name), base_url, url_style)
    return JSONResponse(
        {"job": job, "collection": name, "state": "queued", "url": f"/admin/api/jobs/{job}"},
        status_code=202,
        headers={"Location": f"/admin/api/jobs/{job}"},
    )
