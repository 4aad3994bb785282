"""Document sources: the folder source (files, URLs, versions), the registry of kinds, and a
source of another kind ingested with nothing else changed (its URLs, its removals)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from rag.ingest import IngestError, ingest, ingest_sources
from rag.search import DocsSearch
from rag.sources import (
    HTML,
    MARKDOWN,
    MDX,
    SOURCE_KINDS,
    Document,
    DocumentSource,
    FolderSource,
    SourceError,
    media_type_of,
    source_kind,
)
from tests.support import new_id, write_pages

BASE = "https://docs.example.test/"


async def documents(source: DocumentSource) -> list[Document]:
    return [document async for document in source.documents()]


def test_a_folder_lists_its_documentation_files(tmp_path):
    root = write_pages(
        tmp_path / "docs",
        {
            "index.md": "# Home\n",
            "guide/setup.mdx": "# Setup\n",
            "guide/page.html": "<h1>Page</h1>",
            "notes.txt": "not documentation",
            ".hidden/secret.md": "# Hidden\n",
            "node_modules/pkg/readme.md": "# Vendored\n",
            "site/index.html": "<h1>Built site</h1>",
        },
    )
    [source] = FolderSource.discover([root], base_url=BASE, url_style="mkdocs")
    assert source.kind == "folder" and source.complete and source.root == str(root.resolve())
    assert source.keys == ["guide/page.html", "guide/setup.mdx", "index.md"]
    assert source.count() == 3


async def test_folder_documents_carry_url_media_type_bytes_and_version(tmp_path):
    root = write_pages(
        tmp_path / "docs",
        {"intro.md": "---\nslug: /start\n---\n# Intro\n", "a/b.mdx": "# B\n", "c.html": "<h1>C</h1>"},
    )
    [source] = FolderSource.discover([root], base_url=BASE, url_style="docusaurus")
    got = {d.key: d for d in await documents(source)}
    assert {k: (d.url, d.media_type) for k, d in got.items()} == {
        "a/b.mdx": (BASE + "a/b", MDX),
        "c.html": (BASE + "c", HTML),
        "intro.md": (BASE + "start", MARKDOWN),  # the front matter's slug
    }
    assert got["a/b.mdx"].data == b"# B\n"
    before = got["a/b.mdx"].version
    stat = (root / "a/b.mdx").stat()
    os.utime(root / "a/b.mdx", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    [again] = [d for d in await documents(source) if d.key == "a/b.mdx"]
    assert again.version != before and again.data == got["a/b.mdx"].data


def test_single_files_are_an_incomplete_source_and_bad_paths_are_errors(tmp_path):
    root = write_pages(tmp_path / "docs", {"a.md": "# A\n", "b.md": "# B\n", "c.txt": "x"})
    [source] = FolderSource.discover([root / "a.md"], base_url=BASE, url_style="plain")
    assert not source.complete and source.keys == ["a.md"]
    both = FolderSource.discover([root / "a.md", root], base_url=BASE, url_style="plain")
    assert [(s.keys, s.complete) for s in both] == [(["a.md", "b.md"], True)]  # the folder covers it
    with pytest.raises(SourceError, match="no such file"):
        FolderSource.discover([root / "missing"], base_url=BASE, url_style="plain")
    with pytest.raises(SourceError, match="not a documentation file"):
        FolderSource.discover([root / "c.txt"], base_url=BASE, url_style="plain")
    with pytest.raises(ValueError, match="unsupported document type"):
        media_type_of("c.txt")


def test_kinds_are_registered_once():
    assert SOURCE_KINDS["folder"] is FolderSource

    class Again(DocumentSource):
        kind = "folder"

        async def documents(self) -> AsyncIterator[Document]:
            return
            yield

    with pytest.raises(ValueError, match="already registered"):
        source_kind(Again)


class MemorySource(DocumentSource):
    """A source of another kind: pages held in memory, published under their own URLs
    (as a crawl or a sitemap would give them), with no files and no URL style."""

    kind = "test-memory"

    def __init__(self, root: str, pages: dict[str, tuple[str, str, str]], complete: bool = True) -> None:
        self.root = root
        self.pages = pages  # key -> (url, media type, text)
        self.complete = complete

    async def documents(self) -> AsyncIterator[Document]:
        for key, (url, media_type, text) in sorted(self.pages.items()):
            yield Document(key, url, media_type, text.encode(), f"etag:{hash(text)}")


source_kind(MemorySource)


async def test_another_kind_of_source_is_ingested_and_searched(engine):
    collection = new_id("c")
    pages = {
        "/guide": ("https://site.test/guide?v=2", MARKDOWN, "# Guide\n\n## Quasars\n\nQuasars are bright.\n"),
        "/faq": ("https://site.test/faq", HTML, "<h1>FAQ</h1><h2 id='nebula'>Nebula</h2><p>A nebula.</p>"),
    }
    source = MemorySource("memory:site", pages)
    summary = await ingest_sources(engine, [source], collection=collection, anchor_style="docusaurus")
    assert (summary.added, summary.unchanged) == (2, 0)
    search = DocsSearch(engine)
    [quasar] = await search.search("quasars", collection=collection)
    assert quasar.url == "https://site.test/guide?v=2#quasars" and quasar.source_path == "/guide"
    [nebula] = await search.search("nebula", collection=collection)
    assert nebula.url == "https://site.test/faq#nebula" and nebula.title == "FAQ"

    again = await ingest_sources(engine, [source], collection=collection, anchor_style="docusaurus")
    assert (again.added, again.changed, again.unchanged) == (0, 0, 2)
    # The same bytes at another URL are a changed document: its chunks' URLs follow.
    pages["/faq"] = ("https://site.test/help/faq", *pages["/faq"][1:])
    moved = await ingest_sources(engine, [source], collection=collection, anchor_style="docusaurus")
    assert (moved.changed, moved.unchanged) == (1, 1)
    assert (await search.search("nebula", collection=collection))[
        0
    ].url == "https://site.test/help/faq#nebula"

    # An incomplete listing removes nothing; a complete one removes what it no longer lists.
    partial = MemorySource("memory:site", {"/faq": pages["/faq"]}, complete=False)
    assert (await ingest_sources(engine, [partial], collection=collection)).removed == 0
    del pages["/guide"]
    assert (
        await ingest_sources(engine, [source], collection=collection, anchor_style="docusaurus")
    ).removed == 1
    assert await search.search("quasars", collection=collection) == []


async def test_sources_of_one_collection_keep_their_documents_apart(engine, tmp_path):
    collection = new_id("c")
    root = write_pages(tmp_path / "docs", {"faq.md": "# FAQ\n\nFolder answers.\n"})
    await ingest(engine, [root], base_url=BASE, collection=collection)
    memory = MemorySource(
        "memory:other", {"faq.md": ("https://other.test/faq", MARKDOWN, "# FAQ\n\nMemory.\n")}
    )
    summary = await ingest_sources(engine, [memory], collection=collection)
    assert (summary.added, summary.removed) == (1, 0)  # same key, another source: another document
    results = await DocsSearch(engine).search("faq", k=10, collection=collection)
    assert {r.url for r in results} == {BASE + "faq/#faq", "https://other.test/faq#faq"}


async def test_a_failing_source_is_an_ingest_error(engine):
    class Broken(MemorySource):
        kind = "test-broken"

        async def documents(self) -> AsyncIterator[Document]:
            raise SourceError("https://site.test/: 503 Service Unavailable")
            yield

    with pytest.raises(IngestError, match="503"):
        await ingest_sources(engine, [Broken("memory:broken", {})], collection=new_id("c"))
