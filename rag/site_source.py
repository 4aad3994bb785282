"""A published documentation site as a `DocumentSource`: the pages its sitemap lists, or
those reached by crawling from a start URL (same origin and path prefix).

robots.txt is honoured (and its Crawl-delay slows the pace); requests run `concurrency` at a
time at most `rate` a second; a page read before is asked for conditionally (If-None-Match,
If-Modified-Since) and a sitemap `lastmod` equal to the last one skips the request. A 304 (or
the same lastmod) yields the document as unchanged: ingestion keeps its chunks, and a crawl
follows the links the page had. A redirect within the site is followed as a new page; one off
the site is a failure, never followed. A page robots.txt disallows is never fetched and is
listed among the sync's skipped pages (not its failures). A page that answers 404 or 410 is gone; another error
keeps the stored copy and is listed among the failures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import httpx

from rag.site_fetch import USER_AGENT, FetchFailed, Pace, Version, get, read_robots, sitemap_pages
from rag.site_page import read_page, without_fragment
from rag.source_state import ROBOTS_DISALLOWED, Failure, Known
from rag.sources import HTML, Document, DocumentSource, SourceError, source_kind

SKIPPED_SUFFIXES = frozenset(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".ico",
        ".css",
        ".js",
        ".map",
        ".json",
        ".xml",
        ".zip",
        ".gz",
        ".tar",
        ".pdf",
        ".woff",
        ".woff2",
        ".ttf",
        ".mp4",
    ]
)
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class SiteSettings:
    sitemap: str | None = None
    crawl: str | None = None
    concurrency: int = 4
    rate: float = 10.0  # requests a second to the site
    max_pages: int = 5000
    max_bytes: int = 5_000_000  # per page
    timeout: float = 20.0  # seconds per request, the whole answer

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SiteSettings:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        settings = cls(**known)
        start = settings.sitemap or settings.crawl
        if bool(settings.sitemap) == bool(settings.crawl) or not start:
            raise SourceError("a site source needs either a sitemap URL or a crawl start URL")
        parts = urlsplit(start)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SourceError(f"{start[:200]!r}: not an http(s) URL")
        if not (1 <= settings.concurrency <= 64 and 0 < settings.rate <= 1000 and settings.max_pages >= 1):
            raise SourceError("concurrency must be 1-64, rate 0-1000 requests a second, max pages >= 1")
        return settings

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class _Crawl:
    """The pages scheduled so far and the work queue of one sync."""

    todo: asyncio.Queue[tuple[str, str | None]] = field(default_factory=asyncio.Queue)
    scheduled: set[str] = field(default_factory=set)


@source_kind
class SiteSource(DocumentSource):
    kind: ClassVar[str] = "site"

    def __init__(self, root: str, settings: SiteSettings, known: dict[str, Known]) -> None:
        self.root = root
        self.settings = settings
        self.known = known
        self.start = without_fragment(settings.sitemap or settings.crawl or "")
        parts = urlsplit(self.start)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path if settings.crawl else "/"
        self.prefix = path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"
        self.crawling = settings.crawl is not None  # a sitemap's pages are its list: links not followed
        self.fetched = 0
        self.failures: list[Failure] = []
        self.skipped: list[Failure] = []  # disallowed by robots.txt: listed, never fetched
        self.seen: dict[str, Known] = {}  # the versions to record
        self.requests = 0

    def in_scope(self, url: str) -> bool:
        parts = urlsplit(url)
        return (
            f"{parts.scheme}://{parts.netloc}" == self.origin
            and parts.path.startswith(self.prefix)
            and not parts.query
            and PurePosixPath(parts.path).suffix.lower() not in SKIPPED_SUFFIXES
        )

    async def documents(self) -> AsyncIterator[Document]:
        limits = httpx.Limits(max_connections=self.settings.concurrency)
        timeout = httpx.Timeout(self.settings.timeout)
        headers = {"User-Agent": USER_AGENT}
        async with httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers) as client:
            pace = Pace(self.settings.rate)
            robots = await read_robots(client, pace, self.origin, self.settings.timeout)
            delay = robots.crawl_delay(USER_AGENT)
            if delay:
                pace.interval = max(pace.interval, float(delay))
            crawl = _Crawl()
            if self.settings.sitemap:
                for url, lastmod in await sitemap_pages(client, pace, self.start, self.settings.timeout):
                    self._schedule(crawl, url, lastmod, force=True)
            else:
                self._schedule(crawl, self.start, None)
            out: asyncio.Queue[Document | None] = asyncio.Queue(self.settings.concurrency * 2)

            async def work() -> None:
                while True:
                    url, lastmod = await crawl.todo.get()
                    try:
                        if not robots.can_fetch(USER_AGENT, url):
                            self.skipped.append(Failure(url, ROBOTS_DISALLOWED))
                            continue
                        document = await self._visit(
                            client, pace, url, lastmod, lambda u: self._schedule(crawl, u)
                        )
                        if document is not None:
                            await out.put(document)
                    except Exception as exc:  # noqa: BLE001 - one page's failure, listed
                        self.failures.append(Failure(url, f"{type(exc).__name__}: {exc}"[:500]))
                    finally:
                        crawl.todo.task_done()

            async def finish() -> None:
                await crawl.todo.join()
                await out.put(None)

            tasks = [asyncio.create_task(work()) for _ in range(self.settings.concurrency)]
            tasks.append(asyncio.create_task(finish()))
            try:
                while (document := await out.get()) is not None:
                    yield document
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def _schedule(self, crawl: _Crawl, url: str, lastmod: str | None = None, force: bool = False) -> None:
        if url in crawl.scheduled or len(crawl.scheduled) >= self.settings.max_pages:
            return
        if not force and not self.in_scope(url):
            return
        crawl.scheduled.add(url)
        crawl.todo.put_nowait((url, lastmod))

    async def _visit(
        self,
        client: httpx.AsyncClient,
        pace: Pace,
        url: str,
        lastmod: str | None,
        follow: Callable[[str], None],
    ) -> Document | None:
        """The document at `url` (None: not a page, gone, or a redirect), failures recorded."""
        known = self.known.get(url)
        version = Version.load(known.version) if known else Version()
        if known is not None and lastmod and version.lastmod == lastmod:
            return self._unchanged(url, known, follow)
        settings = self.settings
        try:
            self.requests += 1
            response = await get(
                client,
                pace,
                url,
                headers=version.conditions(),
                max_bytes=settings.max_bytes,
                seconds=settings.timeout,
            )
        except FetchFailed as exc:
            return self._failed(url, str(exc), known)
        if response.status == 304 and known is not None:
            return self._unchanged(url, known, follow)
        if response.status in _REDIRECTS and response.location:
            target = without_fragment(urljoin(url, response.location))
            if not self.in_scope(target):
                return self._failed(url, f"redirects off the site to {target[:200]} (not followed)", None)
            follow(target)
            return None
        if response.status in (404, 410):
            self.failures.append(Failure(url, f"HTTP {response.status}: removed"))
            return None
        if response.status != 200:
            return self._failed(url, f"HTTP {response.status}", known)
        if not response.is_html:
            return None  # an image, a download: not a page
        return await self._read(url, response, lastmod, follow)

    async def _read(
        self, url: str, response: Any, lastmod: str | None, follow: Callable[[str], None]
    ) -> Document:
        body, links = await asyncio.to_thread(read_page, response.body, url)
        inside = tuple(link for link in links if self.in_scope(link)) if self.crawling else None
        for link in inside or ():
            follow(link)
        version = Version(response.headers.get("etag"), response.headers.get("last-modified"), lastmod).dump()
        self.fetched += 1
        self.seen[url] = Known(url, version, inside)
        return Document(url, url, HTML, body, version)

    def _unchanged(self, url: str, known: Known, follow: Callable[[str], None]) -> Document:
        for link in known.links if self.crawling and known.links else ():
            follow(link)
        self.seen[url] = known
        return Document(url, url, HTML, b"", known.version, unchanged=True)

    def _failed(self, url: str, error: str, known: Known | None) -> Document | None:
        """Record a failure; the stored copy (if any) stays, unchanged."""
        self.failures.append(Failure(url, error))
        if known is None:
            return None
        self.seen[url] = known
        return Document(url, url, HTML, b"", known.version, unchanged=True)
