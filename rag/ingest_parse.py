"""What a document turns into before ingestion writes it: its fingerprint, its text, and its
chunks, parsed within the per-file time budget (rag.budget; past it, OverBudget: the run skips
and lists the file)."""

from __future__ import annotations

import hashlib
import logging

from rag.budget import time_budget
from rag.chunking import Chunk, chunk_document
from rag.sources import Document

log = logging.getLogger("docsdesk.ingest")


def fingerprint(document: Document, anchor_style: str) -> str:
    """sha256 of the document's bytes and of what else shapes its chunks: its URL, media
    type, and the anchor style of its headings."""
    digest = hashlib.sha256()
    digest.update(f"{document.url}\0{document.media_type}\0{anchor_style}\0".encode())
    digest.update(document.data)
    return digest.hexdigest()


def decode_text(data: bytes, where: str) -> str:
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        log.warning("%s is not valid UTF-8; undecodable bytes replaced", where)
        raw = data.decode("utf-8", errors="replace")
    return raw.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def chunk_within_budget(
    document: Document, raw: str, anchor_style: str, collection: str, seconds: float
) -> list[Chunk]:
    """Blocking: chunk_document, raising OverBudget past `seconds`."""
    with time_budget(seconds):
        return chunk_document(
            raw, document.media_type, document.url, anchor_style=anchor_style, collection=collection
        )
