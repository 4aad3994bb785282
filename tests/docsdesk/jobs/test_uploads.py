"""Upload jobs run by real `docsdesk worker` processes: the archive POSTed to a live server is
stored in the database and ingested by a worker that only reaches the database; a worker killed
mid-ingest leaves the job (and its archive) to another, which completes it with nothing stored
twice; two uploads to one collection end with the newer one's files."""

from __future__ import annotations

import signal

from sqlalchemy import text

from rag.upload import ingest_upload
from tests.docsdesk.http.test_admin_upload import DOCS, archive, document_paths, post_upload, upload_rows
from tests.docsdesk.insights.conftest import admin, admin_app, collection  # noqa: F401 - fixtures
from tests.docsdesk.jobs.support import chunk_counts, start_worker, stop_worker, until, wait_for_job
from tests.support import new_id

WORDS = [
    "install",
    "configure",
    "deploy",
    "search",
    "index",
    "chunk",
    "answer",
    "cite",
    "page",
    "section",
    "heading",
    "anchor",
]


def many_pages(count: int) -> dict[str, bytes]:
    """`count` pages of four sections each, different enough to be chunked apart."""
    pages = {}
    for i in range(count):
        sections = "".join(
            f"## Part {s} of page {i}\n\n"
            + " ".join(WORDS[(i * 7 + s * 3 + w) % len(WORDS)] for w in range(120))
            + f" page{i}section{s}.\n\n"
            for s in range(4)
        )
        pages[f"docs/area-{i % 20}/page-{i}.md"] = f"# Page {i}\n\n{sections}".encode()
    return pages


async def documents_in(engine, name: str) -> int:
    return (await chunk_counts(engine, name))[0]


async def test_a_worker_killed_mid_ingest_its_upload_is_run_again(admin_app, database, engine, tmp_path):  # noqa: F811
    url, _ = admin_app  # serving only: the workers are the processes below
    pages = many_pages(1500)
    body = archive(pages)
    reference, name = new_id("ref"), new_id("up")
    (tmp_path / "ref.tar.gz").write_bytes(body)
    await ingest_upload(engine, tmp_path / "ref.tar.gz", reference, base_url="https://docs.example.test/")
    expected = await chunk_counts(engine, reference)
    assert expected[0] == 1500
    first = start_worker(database.url, tmp_path)
    second = None
    try:
        async with admin(url) as http:
            started = await http.post(
                f"/admin/api/collections/{name}/upload",
                params={"base_url": "https://docs.example.test/"},
                content=body,
            )
            assert started.status_code == 202, started.text
            job_id = started.json()["job"]
            await wait_for_job(engine, job_id, ("running",))
            await until(lambda: _at_least(engine, name, 64), within=60, every=0.05)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            written = await documents_in(engine, name)
            assert 64 <= written < 1500  # killed mid-ingest
            assert (await wait_for_job(engine, job_id, ("running", "queued"))).state in ("running", "queued")
            assert (await upload_rows(engine, name))[1] == 1  # its archive is still stored
            second = start_worker(database.url, tmp_path)
            done = await wait_for_job(engine, job_id, ("succeeded", "failed"), within=180)
    finally:
        output = stop_worker(first)
        output += stop_worker(second) if second else ""
    assert done.state == "succeeded", (done, output)
    assert done.attempts == 2  # the killed run and the one that completed
    assert done.result["added"] + done.result["unchanged"] == 1500 and done.result["unchanged"] >= 64
    documents, chunks, distinct = await chunk_counts(engine, name)
    assert (documents, chunks) == expected[:2] and chunks == distinct  # nothing stored twice
    assert await upload_rows(engine, name) == (1, 0, 0)


async def _at_least(engine, name: str, documents: int) -> bool:
    return await documents_in(engine, name) >= documents


async def test_two_uploads_to_one_collection_end_with_the_newer(admin_app, database, engine, tmp_path):  # noqa: F811
    url, _ = admin_app
    name = new_id("up")
    older = many_pages(400)
    newer = {**DOCS, "docs/newer.md": b"# Newer\n\nThe newer upload.\n"}
    workers = [start_worker(database.url, tmp_path), start_worker(database.url, tmp_path)]
    try:
        async with admin(url) as http:
            jobs = [(await post_upload(http, name, files)).json()["job"] for files in (older, newer)]
            done = [await wait_for_job(engine, job, ("succeeded", "failed"), within=120) for job in jobs]
    finally:
        outputs = [stop_worker(worker) for worker in workers]
    assert [job.state for job in done] == ["succeeded", "succeeded"], (done, outputs)
    # The older either ran first (then the newer replaced its files) or gave way to the newer.
    assert done[0].result.get("superseded_by") in (None, jobs[1])
    assert await document_paths(engine, name) == set(newer)


async def test_an_upload_whose_stored_archive_is_damaged_fails_once(admin_app, database, engine, tmp_path):  # noqa: F811
    url, _ = admin_app
    name = new_id("up")
    async with admin(url) as http:
        job_id = (await post_upload(http, name, DOCS)).json()["job"]
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM docs_upload_parts WHERE job_id = :i"), {"i": job_id})
    worker = start_worker(database.url, tmp_path)
    try:
        done = await wait_for_job(engine, job_id, ("succeeded", "failed"))
    finally:
        output = stop_worker(worker)
    assert done.state == "failed" and done.attempts == 1, (done, output)
    assert "incomplete" in done.error and "Traceback" not in output
    assert await upload_rows(engine, name) == (1, 0, 0) and await document_paths(engine, name) == set()
