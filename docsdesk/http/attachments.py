"""Attachments over HTTP: direct upload, the two-phase upload's bytes, image previews."""

from __future__ import annotations

import time
from urllib.parse import quote

from chatkit.types import Attachment
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from docsdesk.core.context import RequestContext
from docsdesk.http.deps import CurrentIdentity, Limits, ServicesDep, Telemetry, request_context
from docsdesk.http.multipart import file_field

router = APIRouter()


def attachment_response(attachment: Attachment) -> Response:
    body = attachment.model_dump_json(exclude_none=True, context={"exclude_metadata": True})
    return Response(body, media_type="application/json")


def content_disposition(name: str) -> str:
    """`inline` with the file name, ASCII fallback and RFC 5987 UTF-8 form."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@router.post("/attachments")
async def upload_direct(
    request: Request, identity: CurrentIdentity, services: ServicesDep, limits: Limits, telemetry: Telemetry
) -> Response:
    """Direct strategy: the reader's bearer token, multipart `file` -> the attachment JSON."""
    await limits.check_upload(request, identity)
    declared = request.headers.get("content-length", "")
    attachment = await services.attachments.direct_upload(
        file_field(request),
        int(declared) if declared.isdigit() else None,
        request_context(request, identity, telemetry),
    )
    return attachment_response(attachment)


@router.post("/attachments/{attachment_id}/upload")
async def upload_signed(
    attachment_id: str,
    request: Request,
    services: ServicesDep,
    expires: str | None = None,
    signature: str | None = None,
) -> Response:
    """Two-phase strategy: the bytes for an attachment created by attachments.create,
    authorised by the signed URL alone (single-use, short-lived)."""
    attachment = await services.attachments.upload(
        attachment_id, expires, signature, file_field(request), str(request.base_url).rstrip("/")
    )
    return attachment_response(attachment)


PREVIEW_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
}


@router.get("/attachments/{attachment_id}/preview")
async def preview(
    attachment_id: str, services: ServicesDep, expires: str | None = None, signature: str | None = None
) -> Response:
    """An image attachment through its signed, expiring preview URL: served with its
    checked raster type only, never sniffed, never as a document."""
    files = services.attachments
    record = await files.preview(attachment_id, expires, signature)
    attachment = await files.store.load_attachment(
        attachment_id, RequestContext(user_id=record.user_id, tenant_id=record.tenant_id)
    )
    max_age = max(0, min(int(expires or 0) - int(time.time()), 3600))
    headers = {
        "Content-Length": str(record.size),
        "Content-Disposition": content_disposition(attachment.name),
        **PREVIEW_HEADERS,
        "Cache-Control": f"private, max-age={max_age}",
    }
    return StreamingResponse(files.read(record), media_type=record.kind.mime, headers=headers)
