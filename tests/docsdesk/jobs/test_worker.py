"""`docsdesk worker` as real processes against a local docs site: a sync job run, a worker
killed mid-sync (the job is run again by another and completes, nothing stored twice), two
workers and one collection (never two syncs at once), a schedule that fires."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from datetime import timedelta

from docsdesk.jobs.queue import enqueue_collection_sync
from rag.source_state import get_source
from rag.source_sync import create_source, sync_source
from tests.docsdesk.cli.test_cli import run_cli
from tests.docsdesk.jobs.support import chunk_counts, start_worker, stop_worker, until, wait_for_job
from tests.support import new_id
from tests.support.docs_site import DocsSite, generated_site


async def test_a_worker_process_runs_a_sync_job(database, engine, tmp_path):
    collection, name = new_id("c"), new_id("s")
    with DocsSite(generated_site(4)) as site:
        await create_source(engine, name, collection, "site", {"sitemap": f"{site.origin}/sitemap.xml"})
        enqueued = await enqueue_collection_sync(engine, collection)
        again = await enqueue_collection_sync(engine, collection)
        assert enqueued.created and not again.created and again.id == enqueued.id
        worker = start_worker(database.url, tmp_path)
        try:
            job = await wait_for_job(engine, enqueued.id, ("succeeded", "failed"))
        finally:
            output = stop_worker(worker)
    assert job.state == "succeeded", (job, output)
    assert job.attempts == 1
    assert job.result == {"sources": {name: job.progress["done"][name]}}
    assert job.result["sources"][name]["added"] == 5 and job.result["sources"][name]["failed"] == 0
    assert (await chunk_counts(engine, collection))[0] == 5
    assert (await get_source(engine, name)).last is not None
    assert "worker ready" in output and "Traceback" not in output
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path)}
    shown = await asyncio.to_thread(lambda: run_cli("jobs", "show", str(job.id), **env))
    assert shown.returncode == 0 and json.loads(shown.stdout)["state"] == "succeeded", shown.stderr
    ended = await asyncio.to_thread(lambda: run_cli("jobs", "cancel", str(job.id), **env))
    assert ended.returncode == 1 and f"no queued or running job {job.id}" in ended.stderr


def slow_site(pages: int, delay: float) -> DocsSite:
    site = DocsSite(generated_site(pages))
    for path in site.pages:
        site.delays[path] = delay
    return site


def one_at_a_time(site: DocsSite, **more) -> dict:
    return {"sitemap": f"{site.origin}/sitemap.xml", "concurrency": 1, "rate": 1000.0, **more}


async def test_a_worker_killed_mid_sync_its_job_is_run_again_by_another(database, engine, tmp_path):
    reference, collection, name = new_id("ref"), new_id("c"), new_id("s")
    with slow_site(12, 0.4) as site:
        await create_source(engine, name + "-ref", reference, "site", one_at_a_time(site))
        await sync_source(engine, name + "-ref", cache_dir=tmp_path)
        expected = await chunk_counts(engine, reference)
        await create_source(engine, name, collection, "site", one_at_a_time(site))
        site.reset_counts()
        first = start_worker(database.url, tmp_path)
        second = None
        try:
            job = await enqueue_collection_sync(engine, collection)
            await wait_for_job(engine, job.id, ("running",))
            await until(lambda: site.count(status=200) >= 4, within=30)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            assert (await wait_for_job(engine, job.id, ("running", "queued"))).state in ("running", "queued")
            second = start_worker(database.url, tmp_path)
            done = await wait_for_job(engine, job.id, ("succeeded", "failed"), within=90)
        finally:
            stop_worker(first)
            output = stop_worker(second) if second else ""
    assert done.state == "succeeded", (done, output)
    assert done.attempts == 2  # the killed run and the one that completed
    documents, chunks, distinct = await chunk_counts(engine, collection)
    assert (documents, chunks) == expected[:2] and chunks == distinct  # nothing stored twice


async def test_two_workers_never_sync_one_collection_at_once(database, engine, tmp_path):
    collection, by_sitemap, by_crawl = new_id("c"), new_id("map"), new_id("crawl")
    with slow_site(6, 0.3) as site:
        await create_source(engine, by_sitemap, collection, "site", one_at_a_time(site))
        crawl = {"crawl": f"{site.origin}/docs/", "concurrency": 1, "rate": 1000.0}
        await create_source(engine, by_crawl, collection, "site", crawl)
        workers = [start_worker(database.url, tmp_path), start_worker(database.url, tmp_path)]
        try:
            jobs = [
                await enqueue_collection_sync(engine, collection, [by_sitemap]),
                await enqueue_collection_sync(engine, collection, [by_crawl]),
            ]
            done = [await wait_for_job(engine, job.id, ("succeeded", "failed"), within=90) for job in jobs]
        finally:
            outputs = [stop_worker(worker) for worker in workers]
        assert [job.state for job in done] == ["succeeded", "succeeded"], (done, outputs)
        assert site.most_in_flight == 1  # each sync reads one page at a time: two at once would read two
    assert (await chunk_counts(engine, collection))[0] == 14  # 7 pages from each source
    first, second = sorted(
        [await get_source(engine, by_sitemap), await get_source(engine, by_crawl)],
        key=lambda r: r.last_sync_at,
    )
    assert first.last_sync_at <= second.last_sync_at and first.last and second.last


async def test_a_scheduled_source_is_synced_by_the_worker(database, engine, tmp_path):
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path)}
    name = new_id("s")
    with DocsSite(generated_site(2)) as site:
        added = run_cli(
            "sources", "add", name, "--sitemap", f"{site.origin}/sitemap.xml", "--every", "6h", **env
        )
        assert added.returncode == 0, added.stderr
        bad = run_cli(
            "sources", "add", new_id("s"), "--crawl", site.origin + "/", "--every", "6 hours", **env
        )
        assert bad.returncode == 2 and "use a number and a unit" in bad.stderr
        assert (await get_source(engine, name)).every_seconds == 6 * 3600
        worker = start_worker(database.url, tmp_path)
        try:

            async def synced() -> bool:
                return (await get_source(engine, name)).last is not None

            await until(synced)
        finally:
            output = stop_worker(worker)
    record = await get_source(engine, name)
    assert record.last is not None and record.last.added == 3, output
    assert record.next_run_at is not None and record.last_sync_at is not None
    assert 6 * 3600 - 120 < (record.next_run_at - record.last_sync_at).total_seconds() <= 6 * 3600
    listed = run_cli("sources", **env)
    row = next(line for line in listed.stdout.splitlines() if name in line)
    assert "6h" in row and record.next_run_at.strftime("%Y-%m-%d %H:%M UTC") in row


async def test_a_worker_stopped_mid_sync_leaves_its_job_to_another(database, engine, tmp_path):
    collection, name = new_id("c"), new_id("s")
    with slow_site(10, 0.4) as site:
        await create_source(engine, name, collection, "site", one_at_a_time(site))
        first = start_worker(database.url, tmp_path)
        second = None
        try:
            job = await enqueue_collection_sync(engine, collection)
            await wait_for_job(engine, job.id, ("running",))
            await until(lambda: site.count(status=200) >= 3, within=30)
            first.send_signal(signal.SIGTERM)
            second = start_worker(database.url, tmp_path)
            done = await wait_for_job(engine, job.id, ("succeeded", "failed", "cancelled"), within=90)
            first.wait(timeout=30)
        finally:
            output = stop_worker(first)
            output += stop_worker(second) if second else ""
    assert done.state == "succeeded", (done, output)
    documents, chunks, distinct = await chunk_counts(engine, collection)
    assert documents == 11 and chunks == distinct


async def test_an_in_process_worker_cancelled_mid_sync_puts_its_job_back(database, engine, tmp_path):
    from docsdesk.jobs.worker import WorkerOptions, run_until_cancelled

    collection, name = new_id("c"), new_id("s")
    with slow_site(10, 0.5) as site:
        await create_source(engine, name, collection, "site", one_at_a_time(site))
        job = await enqueue_collection_sync(engine, collection)
        options = WorkerOptions(heartbeat=timedelta(seconds=30), schedule_poll=60)
        inside = asyncio.create_task(run_until_cancelled(engine, tmp_path, None, options, grace=0.5))
        await wait_for_job(engine, job.id, ("running",))
        await until(lambda: site.count(status=200) >= 2, within=30)
        inside.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await inside
        assert (await wait_for_job(engine, job.id, ("queued",), within=5)).error == "its worker stopped"
        worker = start_worker(database.url, tmp_path)  # its heartbeat (2 s) is not needed: re-queued
        try:
            done = await wait_for_job(engine, job.id, ("succeeded", "failed"), within=60)
        finally:
            output = stop_worker(worker)
    assert done.state == "succeeded" and done.attempts == 2, (done, output)
    assert (await chunk_counts(engine, collection))[0] == 11


async def test_serve_no_worker_leaves_jobs_to_docsdesk_worker(database, engine, tmp_path):
    import sys

    import httpx

    from tests.support import ServeProcess

    token = "admin-token-0123456789abcdef"
    collection, name = new_id("c"), new_id("s")
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path), "DOCSDESK_ADMIN_TOKEN": token}
    with DocsSite(generated_site(2)) as site:
        await create_source(engine, name, collection, "site", {"sitemap": f"{site.origin}/sitemap.xml"})
        server = ServeProcess([sys.executable, "-m", "docsdesk"], env).with_args("--no-worker")
        async with server, httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            started = await http.post(
                f"/admin/api/collections/{collection}/sync", headers={"Authorization": f"Bearer {token}"}
            )
            assert started.status_code == 202, started.text
            job_id = started.json()["job"]
            await asyncio.sleep(3)
            assert (await wait_for_job(engine, job_id, ("queued",), within=1)).attempts == 0  # nobody runs it
            worker = start_worker(database.url, tmp_path)
            try:
                done = await wait_for_job(engine, job_id, ("succeeded", "failed"))
            finally:
                output = stop_worker(worker)
    assert done.state == "succeeded", (done, output)
