"""Which indexed page the reader is on, when the URL the widget reports is not an indexed one.

The reader's URL often differs from the indexed page's: a trailing slash or not, `index.html`,
a query string or fragment, a version or locale prefix (`/v2/`, `/en/latest/`), a preview or
local host. `match_page` compares URL paths by their common suffix of segments, then the
page title (without the site-name suffix every page title shares, "Agents - Acme Docs"), then
the page's first heading; it returns the page only when one page is the clear match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from rag.search import SearchResult
from rag.urls import absolute_url

_INDEX_FILES = frozenset({"index.html", "index.htm", "index.md", "readme.md"})
_PAGE_SUFFIXES = (".html", ".htm", ".md", ".mdx")
# Segments that version or localise a docs site: v2, 2.1, 1.x, latest, stable, dev, next, en, pt-br.
_PREFIX_SEGMENT = re.compile(
    r"(?i)^(v?\d+(\.(\d+|x))*|latest|stable|dev|next|main|master|current|preview|docs|[a-z]{2}([-_][a-z]{2,4})?)$"
)
_TITLE_SEPARATORS = re.compile(r"\s+[-|–—·:•]\s+")


@dataclass(frozen=True)
class IndexedPage:
    """An indexed page: its URL, its title and its first heading (may equal the title)."""

    url: str
    title: str
    first_heading: str = ""


@dataclass(frozen=True)
class ReaderPage:
    """What the widget reports about the reader's page."""

    url: str = ""
    title: str = ""
    first_heading: str = ""


def path_segments(url: str) -> list[str]:
    """The URL's path as segments, without fragment, query, an index file name or a page
    suffix (`a/b.html` and `a/b/` are both ["a", "b"]); a site-relative URL works too."""
    path = unquote(urlsplit(url.strip()).path)
    segments = [s for s in path.split("/") if s and s != "."]
    if segments and segments[-1].lower() in _INDEX_FILES:
        segments.pop()
    if segments and segments[-1].lower().endswith(_PAGE_SUFFIXES):
        segments[-1] = segments[-1].rsplit(".", 1)[0]
    return [s.lower() for s in segments]


def _host(url: str) -> str:
    return (urlsplit(url.strip()).hostname or "").lower()


def _unversioned(segments: list[str]) -> list[str]:
    return [s for s in segments if not _PREFIX_SEGMENT.match(s)]


def _suffix_match(reader: list[str], page: list[str]) -> int:
    """How many trailing segments the paths share, when what precedes them differs only by
    version, locale or base-path segments (one remainder, those aside, ends the other); -1 if
    the paths differ. Sharing no segment (the docs' root page) needs both remainders to be
    version or locale segments only."""
    common = 0
    while common < min(len(reader), len(page)) and reader[-1 - common] == page[-1 - common]:
        common += 1
    rest_reader = _unversioned(reader[: len(reader) - common])
    rest_page = _unversioned(page[: len(page) - common])
    if common == 0:
        return 0 if not rest_reader and not rest_page else -1
    shorter, longer = sorted((rest_reader, rest_page), key=len)
    return common if longer[len(longer) - len(shorter) :] == shorter else -1


def normal_title(title: str, shared_suffixes: frozenset[str] = frozenset()) -> str:
    """`title` lower-cased, spaces collapsed, without a trailing " - Site name" part when that
    part is a site name (in `shared_suffixes`) or when the title has such a separator."""
    text = " ".join(title.split()).casefold()
    parts = _TITLE_SEPARATORS.split(text)
    if len(parts) > 1 and (parts[-1] in shared_suffixes or not shared_suffixes):
        text = " - ".join(parts[:-1])
    return text


def shared_title_suffixes(pages: Sequence[IndexedPage]) -> frozenset[str]:
    """The trailing title parts shared by at least half of the pages (the site's name)."""
    counts: dict[str, int] = {}
    for page in pages:
        parts = _TITLE_SEPARATORS.split(" ".join(page.title.split()).casefold())
        if len(parts) > 1:
            counts[parts[-1]] = counts.get(parts[-1], 0) + 1
    return frozenset(s for s, n in counts.items() if n >= max(2, len(pages) / 2))


def _unique(found: list[IndexedPage]) -> IndexedPage | None:
    urls = {p.url for p in found}
    return found[0] if len(urls) == 1 else None


def match_page(reader: ReaderPage, pages: Sequence[IndexedPage]) -> IndexedPage | None:
    """The indexed page the reader is on, or None when no page (or more than one) fits."""
    if not pages:
        return None
    if reader.url:
        segments, host = path_segments(reader.url), _host(reader.url)
        scored = [(_suffix_match(segments, path_segments(p.url)), p) for p in pages]
        best = max((score for score, _ in scored), default=-1)
        if best >= 0:
            found = [p for score, p in scored if score == best]
            same_host = [p for p in found if _host(p.url) == host] if len(found) > 1 else found
            chosen = _unique(same_host or found)
            if chosen is not None and (best > 0 or not reader.title or _title_fits(reader, chosen, pages)):
                return chosen
    shared = shared_title_suffixes(pages)
    for wanted in (reader.title, reader.first_heading):
        # The reader's title without the site's name (shared by the indexed titles, or else
        # whatever follows the last " - " / " | "), against the pages' titles and first headings.
        keys = {normal_title(wanted, shared), normal_title(wanted)} - {""}
        found = [
            p
            for p in pages
            if keys & {normal_title(p.title, shared), normal_title(p.first_heading or p.title, shared)}
        ]
        if (chosen := _unique(found)) is not None:
            return chosen
    return None


def _title_fits(reader: ReaderPage, page: IndexedPage, pages: Sequence[IndexedPage]) -> bool:
    shared = shared_title_suffixes(pages)
    return normal_title(reader.title, shared) in (normal_title(page.title, shared), "")


_PAGES_SQL = """
    SELECT d.id, d.page_url AS url, d.title, coalesce((
        SELECT c.heading_path[1] FROM docs_chunks c WHERE c.document_id = d.id ORDER BY c.ordinal LIMIT 1
    ), '') AS first_heading
    FROM docs_documents d WHERE {scope} ORDER BY d.page_url LIMIT :limit
"""
_OPENING_SQL = """
    SELECT c.id, c.page_title, c.heading_path, c.url, c.text, c.collection, d.source_path
    FROM docs_chunks c JOIN docs_documents d ON d.id = c.document_id
    WHERE c.document_id = :document ORDER BY c.ordinal LIMIT 1
"""
MAX_PAGES = 20_000  # pages compared at most (a collection's documents)


async def indexed_pages(engine: AsyncEngine, collection: str | None) -> dict[int, IndexedPage]:
    """The pages of `collection` (all collections when None) with their first heading, by
    document id."""
    scope = "d.collection = :collection" if collection is not None else "TRUE"
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(_PAGES_SQL.format(scope=scope)), {"collection": collection, "limit": MAX_PAGES}
        )
        return {row.id: IndexedPage(row.url, row.title or "", row.first_heading or "") for row in rows}


async def reader_page_opening(
    engine: AsyncEngine, reader: ReaderPage, collection: str | None, public_url: str | None = None
) -> SearchResult | None:
    """The first chunk of the indexed page the reader is on (`match_page`), or None."""
    if not (reader.url or reader.title or reader.first_heading):
        return None
    found = await indexed_pages(engine, collection)
    documents = {absolute_url(p.url, public_url): document for document, p in found.items()}
    pages = [IndexedPage(absolute_url(p.url, public_url), p.title, p.first_heading) for p in found.values()]
    chosen = match_page(reader, pages)
    if chosen is None:
        return None
    async with engine.connect() as conn:
        row = (await conn.execute(text(_OPENING_SQL), {"document": documents[chosen.url]})).first()
    if row is None:
        return None
    return SearchResult(
        title=row.page_title,
        heading_path=list(row.heading_path),
        url=absolute_url(row.url, public_url),
        snippet="",
        score=0.0,
        text=row.text,
        source_path=row.source_path,
        collection=row.collection,
        chunk_id=row.id,
    )
