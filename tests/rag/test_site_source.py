"""Published-site sources against a real local HTTP server (tests.support.docs_site) serving
the test docs site built with mkdocs (tests.support.mkdocs_site): sitemap and crawl syncs,
conditional re-syncs, removals, robots.txt, redirects off the site. Bounds and bad settings
use generated pages."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from rag.ingest import IngestError
from rag.source_state import SourceStateError, get_source, list_sources
from rag.source_sync import create_source, sync_source
from tests.support import new_id
from tests.support.docs_site import DocsSite, generated_site, page_html
from tests.support.mkdocs_site import build, pages

CONFIGURE = "guide/configure.md"
NEW_CONFIGURE = (
    "# Configure\n\nWidget reads `widget.yaml` now.\n\n## Ports\n\nSet `port = 7070` to move it.\n"
)


async def chunks_of(engine, collection: str) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT page_url, url, text FROM docs_chunks WHERE collection = :c ORDER BY url, ordinal"),
            {"c": collection},
        )
        return [tuple(row) for row in rows]


async def page_urls(engine, collection: str) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT page_url FROM docs_documents WHERE collection = :c"), {"c": collection}
        )
        return {row[0] for row in rows}


async def add(engine, **settings) -> tuple[str, str]:
    name, collection = new_id("s"), new_id("c")
    await create_source(engine, name, collection, "site", settings)
    return name, collection


async def chunk_ids(engine, collection: str) -> dict[str, set[int]]:
    """{page URL: ids of its chunks}: a page re-chunked gets new ids."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT page_url, id FROM docs_chunks WHERE collection = :c"), {"c": collection}
        )
        found: dict[str, set[int]] = {}
        for page, chunk in rows:
            found.setdefault(page, set()).add(chunk)
        return found


def rebuilt(site: DocsSite, tmp_path, built: dict[str, str], edits: dict[str, str]) -> list[str]:
    """Build the mkdocs project again with `edits` and serve the pages whose HTML differs from
    the first build's (`built`); those pages' paths."""
    changed = []
    for path, html in pages(build(tmp_path / new_id("build"), edits=edits)).items():
        if built.get(path) != html:
            site.set_page(path, html)
            changed.append(path)
    return changed


async def test_sitemap_sync_reads_the_main_content_with_section_anchors(engine, tmp_path, mkdocs_site):
    with DocsSite(mkdocs_site) as site:
        name, collection = await add(engine, sitemap=f"{site.origin}/sitemap.xml")
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        assert (counts.fetched, counts.added, counts.unchanged, counts.failures) == (5, 5, 0, [])
        chunks = await chunks_of(engine, collection)
    urls = {url for _, url, _ in chunks}
    assert f"{site.origin}/docs/guide/configure/#ports" in urls  # the heading's own id
    assert f"{site.origin}/docs/troubleshooting/#widgets-come-out-square" in urls
    assert any("max_sprockets = 500" in body for _, _, body in chunks)
    everything = " ".join(body for _, _, body in chunks)
    for boilerplate in (
        "Edit on Github",  # the navigation bar's edit link
        "Documentation built with",  # the footer
        "Keyboard Shortcuts",  # the theme's dialogs
        "search these documents",
        "Table of Contents",  # the sidebar
        "Previous",  # the navigation bar
        "Next page",
    ):
        assert boilerplate not in everything
    [record] = [r for r in await list_sources(engine) if r.name == name]
    assert record.last is not None and record.last.added == 5 and record.last_sync_at is not None


async def test_crawl_stays_on_the_path_prefix_and_resyncs_conditionally(engine, tmp_path, mkdocs_site):
    served = dict(mkdocs_site)
    served["/docs/"] = served["/docs/"].replace("<h2 ", '<p><a href="/blog/post/">blog</a></p><h2 ', 1)
    served["/blog/post/"] = page_html("Blog", "<p>Not documentation.</p>", [])
    with DocsSite(served) as site:
        name, collection = await add(engine, crawl=f"{site.origin}/docs/", concurrency=3)
        first = await sync_source(engine, name, cache_dir=tmp_path)
        assert (first.fetched, first.added, first.failed) == (5, 5, 0)
        assert site.count(path="/blog/post/") == 0
        assert f"{site.origin}/blog/post/" not in await page_urls(engine, collection)
        before = await chunk_ids(engine, collection)

        site.reset_counts()
        assert rebuilt(site, tmp_path, mkdocs_site, {CONFIGURE: NEW_CONFIGURE}) == ["/docs/guide/configure/"]
        second = await sync_source(engine, name, cache_dir=tmp_path)
        assert site.count(status=200) == 1 and site.count(status=200, path="/docs/guide/configure/") == 1
        assert site.count(status=304) == 4
        assert (second.fetched, second.changed, second.unchanged, second.added, second.removed) == (
            1,
            1,
            4,
            0,
            0,
        )
        after = await chunk_ids(engine, collection)
        configure = f"{site.origin}/docs/guide/configure/"
        assert {page for page in after if after[page] != before.get(page)} == {configure}  # one re-chunked
        bodies = [body for page, _, body in await chunks_of(engine, collection) if page == configure]
        assert any("port = 7070" in body for body in bodies) and not any("max_sprockets" in b for b in bodies)

        site.reset_counts()
        third = await sync_source(engine, name, cache_dir=tmp_path)
        assert site.count(status=200) == 0 and (third.changed, third.unchanged) == (0, 5)


async def test_a_removed_page_is_removed_and_a_sitemap_lastmod_saves_the_request(
    engine, tmp_path, mkdocs_site
):
    with DocsSite(mkdocs_site, lastmod=True) as site:
        name, collection = await add(engine, sitemap=f"{site.origin}/sitemap.xml")
        await sync_source(engine, name, cache_dir=tmp_path)
        site.reset_counts()
        site.remove_page("/docs/changelog/")
        assert rebuilt(site, tmp_path, mkdocs_site, {CONFIGURE: NEW_CONFIGURE}) == ["/docs/guide/configure/"]
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        page_requests = site.count() - site.count(path="/sitemap.xml") - site.count(path="/robots.txt")
        assert page_requests == 1  # only the page whose lastmod moved
        assert (counts.removed, counts.changed, counts.unchanged, counts.fetched) == (1, 1, 3, 1)
        assert f"{site.origin}/docs/changelog/" not in await page_urls(engine, collection)


async def test_a_crawled_page_that_went_missing_is_removed_and_listed(engine, tmp_path, mkdocs_site):
    with DocsSite(mkdocs_site) as site:
        name, collection = await add(engine, crawl=f"{site.origin}/docs/")
        await sync_source(engine, name, cache_dir=tmp_path)
        site.remove_page("/docs/troubleshooting/")  # the other pages still link to it
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        assert counts.removed == 1 and [f.error for f in counts.failures] == ["HTTP 404: removed"]
        assert len(await page_urls(engine, collection)) == 4
        record = await get_source(engine, name)
        assert (
            record.last is not None and record.last.failures[0].key == f"{site.origin}/docs/troubleshooting/"
        )


async def test_robots_txt_disallow_is_honoured_and_listed_as_skipped(engine, tmp_path, mkdocs_site):
    robots = "User-agent: *\nDisallow: /docs/changelog/\n"
    with DocsSite(mkdocs_site, robots=robots) as site:
        for settings in ({"crawl": f"{site.origin}/docs/"}, {"sitemap": f"{site.origin}/sitemap.xml"}):
            name, collection = await add(engine, **settings)
            counts = await sync_source(engine, name, cache_dir=tmp_path)
            assert site.count(path="/docs/changelog/") == 0
            assert (counts.added, counts.failures) == (4, [])
            skipped = [(f.key, f.error) for f in counts.skipped]
            assert skipped == [(f"{site.origin}/docs/changelog/", "disallowed by robots.txt")]
            assert "1 skipped" in counts.describe() and "0 failed" in counts.describe()
            assert f"{site.origin}/docs/changelog/" not in await page_urls(engine, collection)
            record = await get_source(engine, name)
            assert record.last is not None and record.last.failed == 0
            assert [(f.key, f.error) for f in record.last.skipped] == skipped


async def test_a_redirect_off_the_site_is_not_followed_one_within_is(engine, tmp_path, mkdocs_site):
    served = dict(mkdocs_site)
    links = '<p><a href="/docs/moved/">m</a><a href="/docs/away/">a</a></p><h2 '
    served["/docs/"] = served["/docs/"].replace("<h2 ", links, 1)
    served["/docs/new-home/"] = page_html("NewHome", "<p>Moved here.</p>", [])
    with DocsSite(served) as site, DocsSite({"/x/": page_html("X", "<p>x</p>", [])}) as elsewhere:
        site.redirects["/docs/moved/"] = "/docs/new-home/"
        site.redirects["/docs/away/"] = f"{elsewhere.origin}/x/"
        name, collection = await add(engine, crawl=f"{site.origin}/docs/")
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        assert elsewhere.count() == 0
        [failure] = counts.failures
        assert failure.key == f"{site.origin}/docs/away/" and "not followed" in failure.error
        assert f"{site.origin}/docs/new-home/" in await page_urls(engine, collection)


async def test_bad_sources_are_one_line_errors(engine, tmp_path):
    with pytest.raises(SourceStateError, match="either a sitemap URL or a crawl"):
        await create_source(engine, new_id("s"), "c", "site", {})
    with pytest.raises(SourceStateError, match="not an http"):
        await create_source(engine, new_id("s"), "c", "site", {"crawl": "file:///etc/"})
    with pytest.raises(SourceStateError, match="source name"):
        await create_source(engine, "../x", "c", "site", {"crawl": "http://x.test/"})
    name, _ = await add(engine, crawl="http://x.test/")
    with pytest.raises(SourceStateError, match="already exists"):
        await create_source(engine, name, "c", "site", {"crawl": "http://x.test/"})
    with DocsSite({}) as site:
        site.robots = ""
        name, _ = await add(engine, sitemap=f"{site.origin}/missing-sitemap.xml")
        with pytest.raises(IngestError, match="answered HTTP 404"):
            await sync_source(engine, name, cache_dir=tmp_path)
    record = await get_source(engine, name)
    assert record.last_error is not None and "404" in record.last_error


async def test_concurrency_rate_size_and_time_are_bounded(engine, tmp_path):
    pages = generated_site(8)
    pages["/docs/page-5/"] = page_html("Page5", "<p>" + "big " * 5000 + "</p>", ["/docs/"])
    with DocsSite(pages) as site:
        site.delays["/docs/page-6/"] = 3.0
        for path in pages:
            site.delays.setdefault(path, 0.05)
        name, collection = await add(
            engine, crawl=f"{site.origin}/docs/", concurrency=2, rate=20, max_bytes=10_000, timeout=1.0
        )
        started = asyncio.get_running_loop().time()
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        took = asyncio.get_running_loop().time() - started
    assert site.most_in_flight <= 2
    assert took >= 9 / 20  # robots.txt and 9 pages at 20 a second at most
    errors = {failure.key.removeprefix(site.origin): failure.error for failure in counts.failures}
    size = len(pages["/docs/page-5/"].encode())
    assert errors == {
        "/docs/page-5/": f"larger than 10000 bytes ({size})",
        "/docs/page-6/": "no complete answer within 1 s",
    }
    assert counts.added == 7
