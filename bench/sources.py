"""Published-site sources against a local generated site (tests.support.docs_site, a threaded
http.server holding mkdocs-material-shaped pages that answers conditional GETs): crawl
throughput (pages/s) at concurrency 1 and 8 on a fresh collection each, then a no-change
re-sync of `--pages` pages (all 304) beside the same conditional GETs by a bare httpx client
(the local server's share), and a re-sync after one page changed. Then upload-to-searchable
for the shared corpus (`../shared/corpus` beside the repository: chatkit-python and
openai-agents-python): both doc sets packed into one .tar.gz as `docsdesk ingest --url` packs a
folder, POSTed to a real `docsdesk serve` process (its in-process worker runs the job, with the
shipped static embedder), the job followed to its end, then the server's search asked until it
finds a page of each set: seconds from packing to found.

The syncs use full-text search only (no embedder): their figures are of fetching, extraction
and chunking. The rate is set to its maximum (1,000 requests a second), above what the local server answers.

    python bench/sources.py [--crawl-pages 300] [--pages 1000] [--corpus ../shared/corpus]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from docsdesk.cli.upload import documentation_files  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.source_sync import create_source, sync_source  # noqa: E402
from tests.support import ServeProcess  # noqa: E402
from tests.support.docs_site import DocsSite, generated_site, page_html  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
if not CORPUS.is_dir():  # a worktree one level further down (../../shared/corpus)
    CORPUS = REPO.parent.parent / "shared" / "corpus"
SETS = {  # doc set -> a question only a page of that set answers
    "chatkit-python": "ChatKitServer respond to a user message",
    "openai-agents-python": "guardrails tripwire triggered",
}
PUBLISHED = "https://openai.github.io/"  # chatkit-python/a/b.md -> PUBLISHED + chatkit-python/a/b/
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"


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


def pack_sets(corpus: Path) -> tuple[bytes, int]:
    """The doc sets' documentation files in one .tar.gz, each under its folder; (archive, files)."""
    buffer, count = io.BytesIO(), 0
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in SETS:
            for path in documentation_files(corpus / name):
                tar.add(path, arcname=f"{name}/{path.relative_to(corpus / name).as_posix()}")
                count += 1
    return buffer.getvalue(), count


async def until_ended(http, url: str) -> dict:
    while True:
        job = (await http.get(url)).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.05)


async def until_found(http, question: str, prefix: str) -> None:
    """Until the server's search finds a page under `prefix` for `question`."""
    while True:
        hits = (await http.get("/admin/api/search", params={"q": question})).json()["results"]
        if any(hit["url"].startswith(prefix) for hit in hits):
            return
        await asyncio.sleep(0.05)


async def upload_to_searchable(database_url: str, data_dir: Path, corpus: Path, run: str) -> None:
    import httpx

    collection = f"bench-{run}-upload"
    env = {
        "DATABASE_URL": database_url,
        "DOCSDESK_DATA_DIR": str(data_dir / "serve"),
        "DOCSDESK_ADMIN_TOKEN": ADMIN_TOKEN,
        "DOCSDESK_COLLECTION": collection,
    }
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with (
        ServeProcess([sys.executable, "-m", "docsdesk"], env) as server,
        httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http,
    ):
        started = time.perf_counter()
        body, files = await asyncio.to_thread(pack_sets, corpus)
        answer = await http.post(
            f"/admin/api/collections/{collection}/upload", params={"base_url": PUBLISHED}, content=body
        )
        assert answer.status_code == 202, answer.text
        accepted = time.perf_counter()
        job = await until_ended(http, answer.json()["url"])
        assert job["state"] == "succeeded", job
        ingested = time.perf_counter()
        for name, question in SETS.items():
            await until_found(http, question, PUBLISHED + name + "/")
        found = time.perf_counter()
    print(
        f"upload-to-searchable, shared corpus ({files} pages, {len(body) / 1024:.0f} KB .tar.gz):"
        f" {found - started:.2f} s (pack and POST to 202 {accepted - started:.2f} s, job"
        f" {ingested - accepted:.2f} s, search finds both sets {found - ingested:.2f} s);"
        f" job: {job['result']['summary']}"
    )


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
            await upload_to_searchable(database.url, Path(data_dir), args.corpus, run)
        finally:
            await database.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crawl-pages", type=int, default=300)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the shared corpus (../shared/corpus)")
    asyncio.run(main(parser.parse_args()))
