"""Indexed pages read back from the search index: one page as Markdown (its chunks in order),
every page of some collections with a one-line summary, and a fingerprint that changes whenever
an ingest changes any of them.

Chunks do not overlap and each starts with its section's heading line, so a page is its chunks
joined in order. Pages of docsdesk's own docs are stored site-relative (`/about/NAME`): they are
made absolute with the public URL on the way out and accepted either way on the way in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from rag.urls import absolute_url, page_key

MAX_PAGE_CHARS = 400_000  # fetch_page's answer, at most (a larger page is cut, and says so)
MAX_URL_CHARS = 2048
SUMMARY_CHARS = 200
_HEADING = re.compile(r"^#{1,6}\s")
_FENCE = re.compile(r"^\s*(?:```|~~~)", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_MARKUP = re.compile(r"[`*_]|!\[[^\]]*\]\([^)]*\)|<[^>]{1,200}>")


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    collection: str
    source_path: str
    markdown: str
    truncated: bool = False


@dataclass(frozen=True)
class PageEntry:
    url: str
    title: str
    collection: str
    source_path: str
    summary: str
    text: str  # the whole page (for llms-full.txt), "" when not asked for


def page_candidates(url: str, public_url: str | None) -> list[str]:
    """The stored page URLs `url` may name: without its anchor and query, with and without a
    trailing slash, and site-relative when it is under the public URL (own docs)."""
    page = page_key(url.strip())
    forms = {page, page + "/"}
    if public_url and page.startswith(public_url.rstrip("/") + "/"):
        relative = page[len(public_url.rstrip("/")) :]
        forms |= {relative, relative + "/"}
    return sorted(form for form in forms if form)


async def read_page(
    engine: AsyncEngine, url: str, collections: list[str], public_url: str | None
) -> Page | None:
    """The page at `url` (any of its section URLs) in one of `collections`, as Markdown; None
    when no such page is indexed there."""
    if len(url) > MAX_URL_CHARS or not collections:
        return None
    async with engine.connect() as conn:
        document = (
            await conn.execute(
                text(
                    "SELECT id, page_url, title, collection, source_path FROM docs_documents"
                    " WHERE page_url = ANY(:urls) AND collection = ANY(:collections)"
                    " ORDER BY array_position(CAST(:collections AS text[]), collection), id LIMIT 1"
                ),
                {"urls": page_candidates(url, public_url), "collections": collections},
            )
        ).first()
        if document is None:
            return None
        texts = (
            await conn.execute(
                text("SELECT text FROM docs_chunks WHERE document_id = :id ORDER BY ordinal"),
                {"id": document.id},
            )
        ).scalars()
        markdown, size, truncated = [], 0, False
        for part in texts:
            if size + len(part) > MAX_PAGE_CHARS:
                markdown.append(part[: max(0, MAX_PAGE_CHARS - size)])
                truncated = True
                break
            markdown.append(part)
            size += len(part) + 2
    return Page(
        absolute_url(document.page_url, public_url),
        document.title,
        document.collection,
        document.source_path,
        "\n\n".join(markdown),
        truncated,
    )


def summary_of(first_chunks: str, title: str) -> str:
    """One line about a page: the first sentence of its first paragraph that is not a heading,
    code or a table (markup removed), at most SUMMARY_CHARS; "" when it has none."""
    in_code = False
    for block in first_chunks.split("\n\n"):
        stripped = block.strip()
        skip = in_code or stripped.startswith(("```", "~~~"))
        if len(_FENCE.findall(block)) % 2:
            in_code = not in_code
        if skip or not stripped or _HEADING.match(stripped) or stripped.startswith(("|", "<", "!!!", "===")):
            continue
        line = " ".join(_MARKUP.sub("", stripped).split())
        if not line or line == title:
            continue
        sentence = _SENTENCE_END.split(line, maxsplit=1)[0]
        if len(sentence) > SUMMARY_CHARS:
            sentence = sentence[: SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
        return sentence
    return ""


async def list_pages(
    engine: AsyncEngine, collections: list[str], public_url: str | None, *, full: bool
) -> list[PageEntry]:
    """Every page of `collections` (in that order, then by source path) with its summary, and
    its whole text when `full`."""
    body = (
        "(SELECT string_agg(c.text, E'\\n\\n' ORDER BY c.ordinal) FROM docs_chunks c WHERE c.document_id = d.id)"
        if full
        else "''"
    )
    sql = f"""
        SELECT d.page_url, d.title, d.collection, d.source_path,
               (SELECT string_agg(f.text, E'\\n\\n' ORDER BY f.ordinal) FROM docs_chunks f
                WHERE f.document_id = d.id AND f.ordinal < 3) AS lead,
               {body} AS body
        FROM docs_documents d WHERE d.collection = ANY(:collections)
        ORDER BY array_position(CAST(:collections AS text[]), d.collection), d.source_path
    """
    async with engine.connect() as conn:
        rows = (await conn.execute(text(sql), {"collections": collections})).all()
    return [
        PageEntry(
            absolute_url(row.page_url, public_url),
            row.title,
            row.collection,
            row.source_path,
            summary_of(row.lead or "", row.title),
            row.body or "",
        )
        for row in rows
    ]


async def fingerprint(engine: AsyncEngine, collections: list[str]) -> str:
    """A digest of which documents `collections` hold, at which content: it changes with any
    ingest that adds, changes or removes a page (and with nothing else)."""
    async with engine.connect() as conn:
        value = await conn.scalar(
            text(
                "SELECT md5(coalesce(string_agg(d.collection || ':' || d.id || ':' || d.content_hash"
                " || ':' || d.chunk_count, ',' ORDER BY d.collection, d.id), ''))"
                " FROM docs_documents d WHERE d.collection = ANY(:collections)"
            ),
            {"collections": collections},
        )
    return f"{'|'.join(collections)}:{value}"
