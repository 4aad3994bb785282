"""What the model sees of an attachment.

- An image: an image input (a data URL read from storage), for models that take images.
- A text file, or a PDF's extracted text (pypdf): a delimited data block, size-limited
  (a long file keeps its beginning and its end, where logs have their errors).
- Anything else, or an attachment from an earlier message: the same block with only its
  name and type, so large files are not re-sent on every turn.

The block format (escaped JSON between delimiters) is docsdesk/core/blocks.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from typing import Any

from chatkit.types import Attachment
from openai.types.responses import ResponseInputContentParam, ResponseInputImageParam, ResponseInputTextParam

from chatkit_store.attachments.service import AttachmentFiles, FileRecord
from docsdesk.core.blocks import attachment_block
from docsdesk.core.context import RequestContext

log = logging.getLogger("docsdesk.attachments")

PDF_MAX_PAGES = 200
PDF_TIMEOUT_SECONDS = 20.0
EARLIER = "attached earlier in this conversation; its content is not repeated here"


def reference(attachment: Attachment, note: str) -> ResponseInputTextParam:
    """The attachment by name only."""
    fields = {"name": attachment.name, "type": attachment.mime_type, "note": note}
    return ResponseInputTextParam(type="input_text", text=attachment_block(fields))


def pdf_text(data: bytes, limit: int) -> tuple[str, int, bool]:
    """Blocking: (text of the first pages up to `limit` chars, page count, truncated)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        reader.decrypt("")
    pages = len(reader.pages)
    parts: list[str] = []
    total = 0
    for number, page in enumerate(reader.pages):
        if number >= PDF_MAX_PAGES or total > limit:
            break
        text = (page.extract_text() or "").strip()
        parts.append(text)
        total += len(text) + 2
    text = "\n\n".join(part for part in parts if part)
    truncated = len(text) > limit or len(parts) < pages
    return text[:limit], pages, truncated


class AttachmentInput:
    """Turns the attachments of the message being answered into model input parts."""

    def __init__(self, files: AttachmentFiles, text_chars: int, images: bool) -> None:
        self.files = files
        self.text_chars = text_chars
        self.images = images

    async def content(self, attachment: Attachment, context: RequestContext) -> ResponseInputContentParam:
        record = await self.files.ready_record(attachment.id, context)
        if record is None:
            return reference(attachment, "not available: never uploaded, or deleted")
        kind = record.kind
        if kind.image:
            if not self.images:
                return reference(attachment, "an image; this model cannot view images")
            data = await self.files.read_bytes(record)
            url = f"data:{kind.mime};base64,{base64.b64encode(data).decode('ascii')}"
            return ResponseInputImageParam(type="input_image", detail="auto", image_url=url)
        fields: dict[str, Any] = {"name": attachment.name, "type": kind.mime, "bytes": record.size}
        if kind.name == "pdf":
            fields.update(await self._pdf(record))
        else:
            text, truncated = await self._text(record)
            fields.update({"truncated": truncated, "text": text})
        return ResponseInputTextParam(type="input_text", text=attachment_block(fields))

    async def _text(self, record: FileRecord) -> tuple[str, bool]:
        """The whole text, or its beginning and end when it is over the limit."""
        size = record.size or 0
        budget = self.text_chars
        if size <= budget:
            return (await self.files.read_bytes(record)).decode("utf-8", "replace"), False
        head_bytes = budget // 4
        head = (await self.files.read_bytes(record, 0, head_bytes)).decode("utf-8", "ignore")
        tail = (await self.files.read_bytes(record, size - (budget - head_bytes), size)).decode(
            "utf-8", "ignore"
        )
        omitted = size - head_bytes - (budget - head_bytes)
        return f"{head}\n[… {omitted} bytes omitted …]\n{tail}", True

    async def _pdf(self, record: FileRecord) -> dict[str, Any]:
        data = await self.files.read_bytes(record)
        try:
            text, pages, truncated = await asyncio.wait_for(
                asyncio.to_thread(pdf_text, data, self.text_chars), PDF_TIMEOUT_SECONDS
            )
        except Exception as exc:  # noqa: BLE001 - pypdf raises many types on broken files
            log.info("could not extract text from PDF %s: %s", record.attachment_id, type(exc).__name__)
            return {"note": "a PDF whose text could not be extracted"}
        if not text:
            return {"pages": pages, "note": "a PDF with no extractable text (scanned images?)"}
        return {"pages": pages, "truncated": truncated, "text": text}
