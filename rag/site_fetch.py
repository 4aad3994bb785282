"""HTTP for published-site sources: one bounded GET (size, time, no redirects followed
blindly), a per-host pace, robots.txt (the stdlib's urllib.robotparser) and sitemaps.

Sitemaps are parsed with the stdlib's ElementTree over expat (>= 2.4.1 refuses entity
expansion bombs; ElementTree never fetches external entities); docs/sources.md says why not a
sitemap library.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import pyexpat
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from rag.site_page import without_fragment
from rag.sources import SourceError

USER_AGENT = "docsdesk"
MAX_SITEMAP_BYTES = 50_000_000  # the sitemaps protocol's limit, uncompressed
MAX_SITEMAPS = 100  # sitemaps read through sitemap indexes
MAX_ROBOTS_BYTES = 500_000
MAX_DRAINED_BYTES = 65_536
HTML_TYPES = ("text/html", "application/xhtml+xml")

if pyexpat.version_info < (2, 4, 1):  # pragma: no cover - every supported Python bundles newer
    raise ImportError("expat >= 2.4.1 is needed to parse sitemaps safely")


class FetchFailed(Exception):
    """One URL could not be read; the message says why (for the per-document failures)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: httpx.Headers
    body: bytes  # empty unless 200

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def is_html(self) -> bool:
        return self.headers.get("content-type", "").split(";")[0].strip().lower() in HTML_TYPES


class Pace:
    """At most `rate` requests a second (to the one host a site source reads)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        start = max(now, self.next)
        self.next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


@dataclass(frozen=True)
class Version:
    """What a page's last fetch said about its version, for a conditional GET next time."""

    etag: str | None = None
    last_modified: str | None = None
    lastmod: str | None = None  # the sitemap's

    def dump(self) -> str:
        return json.dumps({k: v for k, v in self.__dict__.items() if v}, sort_keys=True)

    @classmethod
    def load(cls, text: str) -> Version:
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        return (
            cls(data.get("etag"), data.get("last_modified"), data.get("lastmod"))
            if isinstance(data, dict)
            else cls()
        )

    def conditions(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


async def get(
    client: httpx.AsyncClient,
    pace: Pace,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    max_bytes: int,
    seconds: float,
    want: tuple[str, ...] | None = HTML_TYPES,
) -> Response:
    """GET `url` without following redirects; the body is read only for a 200 of a `want`ed
    type (None: any), at most `max_bytes`, all within `seconds`."""
    await pace.wait()
    try:
        async with asyncio.timeout(seconds):
            async with client.stream("GET", url, headers=headers or {}) as response:
                media = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if response.status_code != 200 or (want is not None and media not in want):
                    await _drain(response)
                    return Response(response.status_code, response.headers, b"")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchFailed(f"larger than {max_bytes} bytes ({declared})")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchFailed(f"larger than {max_bytes} bytes")
                return Response(200, response.headers, bytes(body))
    except TimeoutError:
        raise FetchFailed(f"no complete answer within {seconds:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None


async def _drain(response: httpx.Response) -> None:
    """Read a small unwanted body (a 304's, a redirect's) so the connection is reused; a large
    one is left unread (the connection is closed instead)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) <= MAX_DRAINED_BYTES:
        async for _ in response.aiter_bytes():
            pass


async def read_robots(client: httpx.AsyncClient, pace: Pace, origin: str, seconds: float) -> RobotFileParser:
    """The site's robots.txt rules (as urllib.robotparser.read would judge the answer: 401/403
    disallow all, another 4xx allows all); a server error stops the sync."""
    url = f"{origin}/robots.txt"
    robots = RobotFileParser(url)
    try:
        response = await get(client, pace, url, max_bytes=MAX_ROBOTS_BYTES, seconds=seconds, want=None)
    except FetchFailed as exc:
        raise SourceError(f"{url}: {exc}") from None
    if response.status >= 500:
        raise SourceError(f"{url} answered HTTP {response.status}: not reading the site")
    if response.status in (401, 403):
        robots.parse(["User-agent: *", "Disallow: /"])  # as RobotFileParser.read judges them
    elif response.status == 200:
        robots.parse(response.body.decode("utf-8", errors="replace").splitlines())
    else:
        robots.parse([])  # no robots.txt: everything allowed
    return robots


async def sitemap_pages(
    client: httpx.AsyncClient, pace: Pace, url: str, seconds: float
) -> list[tuple[str, str | None]]:
    """(page URL, lastmod) of a sitemap and the sitemaps its index lists (same origin only)."""
    origin = _origin(url)
    pages: dict[str, str | None] = {}
    todo, read = [url], 0
    while todo and read < MAX_SITEMAPS:
        current = todo.pop(0)
        read += 1
        try:
            response = await get(
                client, pace, current, max_bytes=MAX_SITEMAP_BYTES, seconds=seconds, want=None
            )
        except FetchFailed as exc:
            raise SourceError(f"sitemap {current}: {exc}") from None
        if response.status != 200:
            raise SourceError(f"sitemap {current} answered HTTP {response.status}")
        kind, entries = parse_sitemap(response.body, current)
        for loc, lastmod in entries:
            if _origin(loc) != origin:
                continue  # the protocol: a sitemap lists its own site's pages
            if kind == "index":
                todo.append(loc)
            else:
                pages.setdefault(loc, lastmod)
    return list(pages.items())


def parse_sitemap(data: bytes, url: str) -> tuple[str, list[tuple[str, str | None]]]:
    """("index" or "urlset", [(absolute loc, lastmod)]) of a sitemap, gzipped or not."""
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
                data = unzipped.read(MAX_SITEMAP_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise SourceError(f"sitemap {url}: not a readable gzip file ({exc})") from None
        if len(data) > MAX_SITEMAP_BYTES:
            raise SourceError(f"sitemap {url}: larger than {MAX_SITEMAP_BYTES} bytes uncompressed")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SourceError(f"sitemap {url}: not XML ({exc})") from None
    kind = "index" if _local(root.tag) == "sitemapindex" else "urlset"
    entries = []
    for entry in root:
        fields = {_local(child.tag): (child.text or "").strip() for child in entry}
        if fields.get("loc"):
            entries.append((without_fragment(urljoin(url, fields["loc"])), fields.get("lastmod") or None))
    return kind, entries


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
