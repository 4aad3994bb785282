"""The rows an ingest run writes: documents (upserted by source root and key) and chunks."""

from __future__ import annotations

from sqlalchemy import Insert, func
from sqlalchemy.dialects.postgresql import insert as pg_insert

from docsdesk.core.terms import identifier_terms
from rag import schema
from rag.chunking import Chunk


def _upsert_documents() -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE of document rows, returning (id, root, source_path)."""
    stmt = pg_insert(schema.documents)
    updated = ("page_url", "title", "content_hash", "bytes", "chunk_count", "embedder")
    return stmt.on_conflict_do_update(
        index_elements=["collection", "root", "source_path"],
        set_={**{name: stmt.excluded[name] for name in updated}, "updated_at": func.now()},
    ).returning(schema.documents.c.id, schema.documents.c.root, schema.documents.c.source_path)


UPSERT_DOCUMENTS = _upsert_documents()
INSERT_CHUNKS = schema.chunks.insert().returning(
    schema.chunks.c.id, schema.chunks.c.document_id, schema.chunks.c.ordinal
)


def heading_text(page_title: str, heading_path: tuple[str, ...] | list[str]) -> str:
    """The title and headings of a chunk as one line (weighted 'A' in full-text search)."""
    parts = [page_title] if page_title and (not heading_path or heading_path[0] != page_title) else []
    return " › ".join([*parts, *heading_path])


def chunk_row(collection: str, chunk: Chunk) -> dict:
    return {
        "collection": collection,
        "ordinal": chunk.ordinal,
        "url": chunk.url,
        "page_url": chunk.page_url,
        "page_title": chunk.page_title,
        "heading_path": list(chunk.heading_path),
        "heading_text": heading_text(chunk.page_title, chunk.heading_path),
        "text": chunk.text,
        "identifiers": identifier_terms(f"{chunk.page_title} {' '.join(chunk.heading_path)} {chunk.text}"),
        "token_count": chunk.token_count,
        "content_hash": chunk.content_hash,
    }
