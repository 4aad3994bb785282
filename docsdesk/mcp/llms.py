"""`llms.txt` and `llms-full.txt` (llmstxt.org) of an assistant, generated from its index.

`llms.txt`: the title, a one-line description, then per section (a page's folder) a link per page
with its one-line summary. `llms-full.txt`: the same head, then every page's text. Each is
built once per version of the assistant's collections (`pages.fingerprint`, checked on every
request: one cheap query) and kept in memory until an ingest changes them; the fingerprint is
also the ETag, so a client that has the current text gets a 304.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from posixpath import dirname
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.mcp.pages import PageEntry, fingerprint, list_pages

ROOT_PAGES = ("index.md", "index.mdx", "readme.md", "index.html", "index.htm")
TOP_SECTION = "Docs"


@dataclass(frozen=True)
class Rendered:
    body: str
    etag: str


def _link_text(value: str) -> str:
    return " ".join(value.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").split())


def _link_target(url: str) -> str:
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def _section(page: PageEntry, several: bool) -> str:
    folder = dirname(page.source_path)
    name = folder.replace("/", " › ").replace("-", " ").replace("_", " ").strip()
    name = (name[:1].upper() + name[1:]) if name else TOP_SECTION
    return f"{page.collection}: {name}" if several else name


def _title(pages: list[PageEntry], assistant: str) -> str:
    for page in pages:
        if page.source_path.lower() in ROOT_PAGES:
            return _link_text(page.title)
    return f"{assistant} documentation" if assistant != "default" else "Documentation"


def _head(pages: list[PageEntry], assistant: str, collections: list[str]) -> list[str]:
    root = next((p for p in pages if p.source_path.lower() in ROOT_PAGES), None)
    about = (root.summary if root and root.summary else "") or (
        f"{len(pages)} pages of documentation ({', '.join(collections)})."
    )
    return [f"# {_title(pages, assistant)}", "", f"> {' '.join(about.split())}", ""]


def render_index(pages: list[PageEntry], assistant: str, collections: list[str]) -> str:
    """llms.txt: the head, then each section's pages as links with their summaries."""
    lines = _head(pages, assistant, collections)
    several = len(collections) > 1
    sections: dict[str, list[PageEntry]] = {}
    # Each collection's top-level pages first (the root page leads), then its folders.
    order = {name: index for index, name in enumerate(collections)}
    for page in sorted(pages, key=lambda p: (order.get(p.collection, 0), dirname(p.source_path) != "")):
        sections.setdefault(_section(page, several), []).append(page)
    for name, members in sections.items():
        lines += [f"## {name}", ""]
        for page in members:
            summary = f": {page.summary}" if page.summary else ""
            lines.append(f"- [{_link_text(page.title)}]({_link_target(page.url)}){summary}")
        lines.append("")
    return "\n".join(lines)


def render_full(pages: Iterable[PageEntry], assistant: str, collections: list[str]) -> str:
    """llms-full.txt: the head, then every page: its title, URL and text."""
    pages = list(pages)
    parts = ["\n".join(_head(pages, assistant, collections))]
    for page in pages:
        parts.append(f"---\n\nSource: {page.url}\n\n{page.text.strip()}\n")
    return "\n".join(parts)


class LlmsTxt:
    """The rendered files per (assistant, variant), rebuilt when their collections change."""

    def __init__(self, engine: AsyncEngine, public_url: str | None) -> None:
        self.engine = engine
        self.public_url = public_url
        self._cache: dict[tuple[str, bool], tuple[str, Rendered]] = {}
        self._locks: dict[tuple[str, bool], asyncio.Lock] = {}
        self.builds = 0  # how many times a file was generated (tests, metrics)

    async def get(self, assistant: str, collections: list[str], *, full: bool) -> Rendered:
        key = (assistant, full)
        version = await fingerprint(self.engine, collections)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            if cached is not None and cached[0] == version:
                return cached[1]
            pages = await list_pages(self.engine, collections, self.public_url, full=full)
            body = (render_full if full else render_index)(pages, assistant, collections)
            etag = '"' + hashlib.sha256(f"{full}:{version}".encode()).hexdigest()[:32] + '"'
            rendered = Rendered(body, etag)
            self._cache[key] = (version, rendered)
            self.builds += 1
            return rendered
