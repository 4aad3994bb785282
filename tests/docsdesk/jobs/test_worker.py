"""`docsdesk worker` as real processes against a local docs site: a sync job run, a worker
killed mid-sync (the job is run again by another and completes, nothing stored twice), two
workers and one collection (never two syncs at once), a schedule that fires."""

from __future__ import annotations

import signal
import time

from docsdesk.jobs.queue import enqueue_collection_sync
from rag.source_state import get_source
from rag.source_sync import create_source, sync_source
from tests.docsdesk.jobs.support import chunk_counts, start_worker, stop_worker, wait_for_job
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
