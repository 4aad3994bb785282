"""Published-site sources against a local generated site (tests.support.docs_site, a threaded
http.server holding mkdocs-material-shaped pages that answers conditional GETs): crawl
throughput (pages/s) at concurrency 1 and 8 on a fresh collection each, then a no-change
re-sync of `--pages` pages (all 304) beside the same conditional GETs by a bare httpx client
(the local server's share), and a re-sync after one page changed.

Full-text search only (no embedder): the figures are of fetching, extraction and chunking.
The rate is set to its maximum (1,000 requests a second), above what the local server answers.

    python bench/sources.py [--crawl-pages 300] [--pages 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.source_sync import create_source, sync_source  # noqa: E402
from tests.support.docs_site import DocsSite, generated_site, page_html  # noqa: E402


async def crawl_rate(engine, site: DocsSite, run: str, concurrency: int, cache: Path) -> float:
    name = f"bench-{run}-c{concurrency}"
    await create_source(
        engine,
        name,
        name,
        "site",
        {"crawl": f"{site.origin}/docs/", "concurrency": concurrency, "rate": 1000},
    )
    started = time.perf_counter()
    counts = await sync_source(engine, name, cache_dir=cache)
    seconds = time.perf_counter() - started
    assert counts.failed == 0, counts.failures[:3]
    return counts.fetched / seconds


async def bare_conditional_gets(site: DocsSite, concurrency: int) -> float:
    """Seconds for the same conditional GETs by a bare httpx client (the server's share)."""
    import httpx

    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:

        async def etag(path: str) -> str:
            async with gate:
                return (await client.get(site.origin + path)).headers["etag"]

        paths = sorted(site.pages)
        etags = await asyncio.gather(*(etag(path) for path in paths))

        async def ask(path: str, tag: str) -> None:
            async with gate:
                await client.get(site.origin + path, headers={"If-None-Match": tag})

        started = time.perf_counter()
        await asyncio.gather(*(ask(path, tag) for path, tag in zip(paths, etags)))
        return time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    run = str(int(time.time()))
    with tempfile.TemporaryDirectory(prefix="docsdesk-sources-") as data_dir:
        settings = Settings(
            _env_file=None, data_dir=Path(data_dir), database_url=os.environ.get("DATABASE_URL")
        )
        database = await open_database(settings)
        engine, cache = database.engine, Path(data_dir) / "cache"
        try:
            with DocsSite(generated_site(args.crawl_pages)) as site:
                for concurrency in (1, 8):
                    rate = await crawl_rate(engine, site, run, concurrency, cache)
                    print(
                        f"crawl {args.crawl_pages + 1} pages, concurrency {concurrency}: {rate:.0f} pages/s"
                    )
            with DocsSite(generated_site(args.pages)) as site:
                name = f"bench-{run}-resync"
                options = {"crawl": f"{site.origin}/docs/", "concurrency": 8, "rate": 1000}
                await create_source(engine, name, name, "site", options)
                first = await sync_source(engine, name, cache_dir=cache)
                print(f"first sync of {args.pages + 1} pages: {first.describe()}")
                site.reset_counts()
                again = await sync_source(engine, name, cache_dir=cache)
                print(f"no-change re-sync: {again.describe()} ({site.count(status=304)} answers 304)")
                bare = await bare_conditional_gets(site, 8)
                print(f"the same conditional GETs by a bare httpx client: {bare:.1f} s")
                site.set_page("/docs/page-7/", page_html("Page7", "<p>Changed.</p>", ["/docs/"]))
                one = await sync_source(engine, name, cache_dir=cache)
                print(f"re-sync after one page changed: {one.describe()}")
        finally:
            await database.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawl-pages", type=int, default=300)
    parser.add_argument("--pages", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
