"""Published-site sources against a real local HTTP server (tests.support.docs_site): sitemap
and crawl syncs, conditional re-syncs, removals, robots.txt, redirects off the site."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from rag.ingest import IngestError
from rag.source_state import SourceStateError, get_source, list_sources
from rag.source_sync import create_source, sync_source
from tests.support import new_id
from tests.support.docs_site import DocsSite, generated_site, page_html


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


async def test_sitemap_sync_reads_the_main_content_with_section_anchors(engine, tmp_path):
    with DocsSite(generated_site(4)) as site:
        name, collection = await add(engine, sitemap=f"{site.origin}/sitemap.xml")
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        assert (counts.fetched, counts.added, counts.unchanged, counts.failures) == (5, 5, 0, [])
        chunks = await chunks_of(engine, collection)
    urls = {url for _, url, _ in chunks}
    assert f"{site.origin}/docs/page-2/#usage-2" in urls  # the heading's own id
    assert any("--widget 2" in body for _, _, body in chunks)
    everything = " ".join(body for _, _, body in chunks)
    for boilerplate in (
        "cookies",
        "Edit",
        "Copyright",
        "Table of contents",
        "Search the site",
        "Last update",
    ):
        assert boilerplate not in everything
    [record] = [r for r in await list_sources(engine) if r.name == name]
    assert record.last is not None and record.last.added == 5 and record.last_sync_at is not None


async def test_crawl_stays_on_the_path_prefix_and_resyncs_conditionally(engine, tmp_path):
    pages = generated_site(6)
    pages["/docs/"] = pages["/docs/"].replace("</article>", '<a href="/blog/post/">blog</a></article>')
    pages["/blog/post/"] = page_html("Blog", "<p>Not documentation.</p>", [])
    with DocsSite(pages) as site:
        name, collection = await add(engine, crawl=f"{site.origin}/docs/", concurrency=3)
        first = await sync_source(engine, name, cache_dir=tmp_path)
        assert (first.fetched, first.added, first.failed) == (7, 7, 0)
        assert site.count(path="/blog/post/") == 0
        assert f"{site.origin}/blog/post/" not in await page_urls(engine, collection)

        site.reset_counts()
        site.set_page(
            "/docs/page-3/", page_html("Page3", "<p>Widget three was renamed gizmo.</p>", ["/docs/"])
        )
        second = await sync_source(engine, name, cache_dir=tmp_path)
        assert site.count(status=200) == 1 and site.count(status=200, path="/docs/page-3/") == 1
        assert site.count(status=304) == 6
        assert (second.fetched, second.changed, second.unchanged, second.added, second.removed) == (
            1,
            1,
            6,
            0,
            0,
        )
        bodies = [body for page, _, body in await chunks_of(engine, collection) if page.endswith("/page-3/")]
        assert any("gizmo" in body for body in bodies)

        site.reset_counts()
        third = await sync_source(engine, name, cache_dir=tmp_path)  # page 3 no longer links on
        assert site.count(status=200) == 0 and (third.changed, third.unchanged) == (0, 7)


async def test_a_removed_page_is_removed_and_a_sitemap_lastmod_saves_the_request(engine, tmp_path):
    with DocsSite(generated_site(4), lastmod=True) as site:
        name, collection = await add(engine, sitemap=f"{site.origin}/sitemap.xml")
        await sync_source(engine, name, cache_dir=tmp_path)
        site.reset_counts()
        site.remove_page("/docs/page-1/")
        site.set_page("/docs/page-2/", page_html("Page2", "<p>New text.</p>", []))
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        page_requests = site.count() - site.count(path="/sitemap.xml") - site.count(path="/robots.txt")
        assert page_requests == 1  # only the page whose lastmod moved
        assert (counts.removed, counts.changed, counts.unchanged, counts.fetched) == (1, 1, 3, 1)
        assert f"{site.origin}/docs/page-1/" not in await page_urls(engine, collection)


async def test_a_crawled_page_that_went_missing_is_removed_and_listed(engine, tmp_path):
    with DocsSite(generated_site(3)) as site:
        name, collection = await add(engine, crawl=f"{site.origin}/docs/")
        await sync_source(engine, name, cache_dir=tmp_path)
        site.remove_page("/docs/page-1/")
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        assert counts.removed == 1 and [f.error for f in counts.failures] == ["HTTP 404: removed"]
        assert len(await page_urls(engine, collection)) == 3
        record = await get_source(engine, name)
        assert record.last is not None and record.last.failures[0].key == f"{site.origin}/docs/page-1/"


async def test_robots_txt_disallow_is_honoured(engine, tmp_path):
    pages = generated_site(3)
    pages["/docs/"] = pages["/docs/"].replace("</article>", '<a href="/docs/private/">p</a></article>')
    pages["/docs/private/"] = page_html("Private", "<p>Internal notes.</p>", [])
    robots = "User-agent: *\nDisallow: /docs/private/\n"
    with DocsSite(pages, robots=robots) as site:
        name, collection = await add(engine, crawl=f"{site.origin}/docs/")
        counts = await sync_source(engine, name, cache_dir=tmp_path)
        assert site.count(path="/docs/private/") == 0
        assert counts.added == 4
        assert f"{site.origin}/docs/private/" not in await page_urls(engine, collection)


async def test_a_redirect_off_the_site_is_not_followed_one_within_is(engine, tmp_path):
    pages = generated_site(2)
    pages["/docs/"] = pages["/docs/"].replace(
        "</article>", '<a href="/docs/moved/">m</a><a href="/docs/away/">a</a></article>'
    )
    pages["/docs/new-home/"] = page_html("NewHome", "<p>Moved here.</p>", [])
    with DocsSite(pages) as site, DocsSite({"/x/": page_html("X", "<p>x</p>", [])}) as elsewhere:
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
