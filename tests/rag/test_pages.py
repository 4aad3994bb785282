"""The reader's page found when the reported URL is not the indexed one (issue #18): trailing
slash, index.html, query, fragment, version or locale prefix, another host; by title without
the site-name suffix; by first heading; and no match when nothing fits."""

from __future__ import annotations

import pytest

from rag.ingest import ingest
from rag.pages import IndexedPage, ReaderPage, match_page, normal_title, reader_page_opening
from tests.support import FIXTURE_DOCS, new_id

BASE = "https://lantern.example/docs/"
PAGES = [
    IndexedPage(BASE, "Lantern documentation - Lantern", "Lantern documentation"),
    IndexedPage(BASE + "concepts/retries/", "Retries and backoff - Lantern", "Retries and backoff"),
    IndexedPage(BASE + "concepts/workers/", "Workers - Lantern", "Workers"),
    IndexedPage(
        BASE + "guides/feedback/", "Collect feedback on reports - Lantern", "Collect feedback on reports"
    ),
]


@pytest.mark.parametrize(
    "url",
    [
        BASE + "concepts/retries/",
        BASE + "concepts/retries",  # no trailing slash
        BASE + "concepts/retries/index.html",
        BASE + "concepts/retries.html",
        BASE + "concepts/retries/?utm_source=x",
        BASE + "concepts/retries/#configure-the-retry-policy",
        "https://lantern.example/docs/v2/concepts/retries/",  # a version prefix
        "https://lantern.example/docs/en/latest/concepts/retries/",  # locale and version
        "https://preview-123.netlify.app/concepts/retries/",  # another host, no base path
        "http://localhost:8000/docs/concepts/retries/",
    ],
)
def test_url_variants_find_the_page(url):
    assert match_page(ReaderPage(url=url), PAGES) == PAGES[1]


def test_the_root_page_matches_only_a_version_or_locale_root():
    assert match_page(ReaderPage(url="https://lantern.example/docs/v3/"), PAGES) == PAGES[0]
    assert match_page(ReaderPage(url="https://preview.example/"), PAGES) == PAGES[0]
    assert match_page(ReaderPage(url="https://shop.example/pricing/"), PAGES) is None


@pytest.mark.parametrize(
    "reader",
    [
        ReaderPage(url="https://wiki.example/pages/1234", title="Retries and backoff - Lantern"),
        ReaderPage(url="https://wiki.example/pages/1234", title="Retries and backoff | Lantern Docs"),
        ReaderPage(title="retries and  backoff"),
        ReaderPage(url="https://wiki.example/x", title="Lantern", first_heading="Retries and backoff"),
    ],
)
def test_title_without_the_site_name_or_first_heading_find_the_page(reader):
    assert match_page(reader, PAGES) == PAGES[1]


def test_nothing_fits_or_two_pages_fit_is_no_match():
    assert match_page(ReaderPage(url="https://other.example/blog/post/", title="Our blog"), PAGES) is None
    twins = [IndexedPage("https://a/x/setup/", "Setup"), IndexedPage("https://a/y/setup/", "Setup")]
    assert match_page(ReaderPage(url="https://b/setup/"), twins) is None
    assert match_page(ReaderPage(url="https://b/y/setup/"), twins) == twins[1]


def test_site_name_suffix_shared_by_the_pages_is_dropped():
    assert normal_title("Workers - Lantern", frozenset({"lantern"})) == "workers"
    assert normal_title("Retries - backoff", frozenset({"lantern"})) == "retries - backoff"


async def test_the_opening_chunk_of_the_matched_page(database):
    collection = new_id("c")
    await ingest(database.engine, [FIXTURE_DOCS], base_url=BASE, collection=collection)
    reader = ReaderPage(url="https://preview.example/v2/concepts/retries/?x=1#configure-the-retry-policy")
    opening = await reader_page_opening(database.engine, reader, collection)
    assert opening is not None and opening.url.startswith(BASE + "concepts/retries/")
    assert "A job that raises an exception is retried." in opening.text
    by_title = await reader_page_opening(
        database.engine, ReaderPage(title="Workers — Lantern docs"), collection
    )
    assert by_title is not None and by_title.title == "Workers"
    assert (
        await reader_page_opening(database.engine, ReaderPage(url="https://x.example/blog/"), collection)
        is None
    )
