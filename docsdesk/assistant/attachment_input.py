"""What the model sees of an attachment.

- An image: an image input (a data URL read from storage), for models that take images.
- A text file, or a PDF's extracted text (pypdf, in a bounded child: pdf_extract.py): a delimited data block, size-limited
  (a long file keeps its beginning and its end, where logs have their errors).
- Anything else, or an attachment from an earlier message: the same block with only its
  name and type, so large files are not re-sent on every turn.

The block format (escaped JSON between delimiters) is docsdesk/core/blocks.py.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from chatkit.types import Attachment
from openai.types.responses import ResponseInputContentParam, ResponseInputImageParam, ResponseInputTextParam

from chatkit_store.attachments.service import AttachmentFiles, FileRecord
from docsdesk.assistant.pdf_extract import PdfExtractor, PdfFailed
from docsdesk.core.blocks import attachment_block
from docsdesk.core.context import RequestContext

log = logging.getLogger("docsdesk.attachments")

EARLIER = "attached earlier in this conversation; its content is not repeated here"


def reference(attachment: Attachment, note: str) -> ResponseInputTextParam:
    """The attachment by name only."""
    fields = {"name": attachment.name, "type": attachment.mime_type, "note": note}
    return ResponseInputTextParam(type="input_text", text=attachment_block(fields))


class AttachmentInput:
    """Turns the attachments of the message being answered into model input parts."""

    def __init__(
        self, files: AttachmentFiles, text_chars: int, images: bool, pdfs: PdfExtractor | None = None
    ) -> None:
        self.files = files
        self.text_chars = text_chars
        self.images = images
        self.pdfs = pdfs or PdfExtractor()

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
            pdf = await self.pdfs.extract(data, self.text_chars)
        except PdfFailed as exc:
            log.info("could not extract text from PDF %s: %s", record.attachment_id, exc.reason)
            return {"note": "a PDF whose text could not be extracted"}
        if not pdf.text:
            return {"pages": pdf.pages, "note": "a PDF with no extractable text (scanned images?)"}
        return {"pages": pdf.pages, "truncated": pdf.truncated, "text": pdf.text}
