"""An upload's bytes on their way into storage: the file as the HTTP layer hands it over
(`UploadedFile`), and `stream_into`, which checks size (the limit, and the size declared by
attachments.create: binding) and content while writing, and keeps nothing on failure."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable
from typing import Protocol

from chatkit_store.attachments.blobs import BlobWriter
from chatkit_store.attachments.kinds import ContentMismatch, Kind, Sniffer, format_size
from docsdesk.core.errors import ApiError


class UploadedFile(Protocol):
    """A file arriving in a request body (the HTTP layer parses it; see docsdesk.http.multipart)."""

    filename: str
    content_type: str

    async def open(self) -> None:
        """Read up to the file's bytes; sets `filename` and `content_type`."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes, as they arrive."""
        ...


async def shielded(coro: Awaitable[None]) -> None:
    """Clean-up that must run to the end even when the request is being cancelled."""
    await asyncio.shield(asyncio.ensure_future(coro))


async def stream_into(
    writer: BlobWriter, field: UploadedFile, kind: Kind, max_bytes: int, declared: int | None = None
) -> tuple[int, str]:
    """Write the file's bytes through `writer`, checking them as they come: (size, sha256).
    ApiError 413 past `max_bytes` or `declared`, 400 when empty, 415 when the bytes are not
    `kind`; on any failure the writer is aborted (nothing kept)."""
    sniffer = Sniffer(kind)
    digest = hashlib.sha256()
    size = 0
    try:
        async for data in field.chunks():
            size += len(data)
            if size > max_bytes:
                raise ApiError(
                    413,
                    "attachment_too_large",
                    f"the file is over the {format_size(max_bytes)} limit",
                )
            if declared is not None and size > declared:
                raise ApiError(
                    413,
                    "attachment_larger_than_declared",
                    f"the file is larger than the {format_size(declared)} declared by attachments.create",
                )
            sniffer.feed(data)
            digest.update(data)
            await writer.write(data)
        if size == 0:
            raise ApiError(400, "empty_file", "the file is empty")
        sniffer.finish()
        await writer.finish()
    except ContentMismatch as exc:
        await shielded(writer.abort())
        raise ApiError(415, "attachment_content_mismatch", str(exc)) from None
    except BaseException:
        await shielded(writer.abort())
        raise
    return size, digest.hexdigest()
