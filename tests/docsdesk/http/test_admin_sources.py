"""GET /admin/api/sources over real HTTP against real PostgreSQL and a local docs site: each
source's kind, origin, last sync with its counts, per-document failures and robots.txt skips,
schedule, failing streak and running job; folder collections with their queued uploads (which
cancelling removes, with their stored archives) and their last upload's result; the assistant
filter; the admin token."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from rag import ingest as ingest_module
from rag.ingest import IngestError
from rag.source_sync import create_source, sync_source
from tests.docsdesk.http.test_admin_jobs import admin_app  # noqa: F401 - the app with its worker
from tests.docsdesk.http.test_admin_upload import DOCS, post_upload, until_ended, upload_rows
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin, collection  # noqa: F401 - fixtures
from tests.docsdesk.ops.test_ops_http import assert_error
from tests.support import LiveServer, new_id
from tests.support.docs_site import DocsSite, generated_site


async def listed(http, **params) -> dict[str, dict]:
    response = await http.get("/admin/api/sources", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["failing_after"] == 3
    assert response.headers["content-type"].startswith("application/json")
    return {s["name"]: s for s in response.json()["sources"]}


async def test_sources_list_last_sync_failures_skips_schedule_and_streak(
    admin_app,  # noqa: F811
    engine,
    tmp_path,
    collection,  # noqa: F811
):
    url, _ = admin_app
    crawl, broken, served = new_id("crawl"), new_id("broken"), new_id("served")
    other = new_id("c")
    robots = "User-agent: *\nDisallow: /docs/page-2/\n"
    with DocsSite(generated_site(4), robots=robots) as site:
        site.redirects["/docs/page-3/"] = "https://elsewhere.example/x/"
        await create_source(engine, crawl, other, "site", {"crawl": f"{site.origin}/docs/"})
        await sync_source(engine, crawl, cache_dir=tmp_path)
        # Scheduled only now, its next run 6 h away: a schedule due at once would race the
        # app's in-process worker, which fires due sources (the listing must show no job).
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE docs_sources SET every_seconds = 21600, next_run_at = now() + interval '6 hours'"
                    " WHERE name = :n"
                ),
                {"n": crawl},
            )
        await create_source(engine, broken, other, "site", {"sitemap": f"{site.origin}/missing.xml"})
        for _ in range(2):
            with pytest.raises(IngestError):
                await sync_source(engine, broken, cache_dir=tmp_path)
        await create_source(engine, served, collection, "git", {"repo": str(tmp_path), "ref": "main"})
    async with admin(url) as http:
        info = (await http.get("/admin/api/info")).json()
        default = next(a["name"] for a in info["assistants"] if a["default"])
        sources = await listed(http)

        s = sources[crawl]
        assert (s["kind"], s["collection"], s["origin"], s["assistants"]) == (
            "crawl", other, f"{site.origin}/docs/", []
        )  # fmt: skip
        last = s["last_sync"]
        assert (last["fetched"], last["added"], last["failed"], last["skipped"]) == (3, 3, 1, 1)
        assert last["at"] and last["seconds"] > 0 and last["unchanged"] == 0
        assert s["failures"] == [
            {"url": f"{site.origin}/docs/page-3/", "reason": "redirects off the site to https://elsewhere.example/x/ (not followed)"}
        ]  # fmt: skip
        assert s["skipped"] == [{"url": f"{site.origin}/docs/page-2/", "reason": "disallowed by robots.txt"}]
        assert s["every_seconds"] == 6 * 3600 and s["next_run_at"] and s["job"] is None and s["syncable"]

        b = sources[broken]
        assert b["kind"] == "sitemap" and b["failing"] == 2 and "answered HTTP 404" in b["last_error"]
        assert b["last_sync"] is not None and b["next_run_at"] is None

        g = sources[served]
        assert (g["kind"], g["assistants"], g["last_sync"]) == ("git", [default], None)
        assert g["origin"] == f"{tmp_path} @ main"
        folder = sources[f"{collection} (folder)"]
        assert folder["kind"] == "folder" and not folder["syncable"] and folder["assistants"] == [default]

        mine = await listed(http, assistant=default)
        assert served in mine and f"{collection} (folder)" in mine and crawl not in mine
        assert_error(
            await http.get("/admin/api/sources", params={"assistant": "nope"}), 404, "unknown_assistant"
        )
    async with admin(url, token="wrong") as http:
        assert_error(await http.get("/admin/api/sources"), 401, "invalid_admin_token")


async def test_a_running_sync_shows_its_job_and_progress(admin_app, engine):  # noqa: F811
    url, _ = admin_app
    name, source = new_id("c"), new_id("s")
    with DocsSite(generated_site(8)) as site:
        for path in site.pages:
            site.delays[path] = 0.3
        settings = {"sitemap": f"{site.origin}/sitemap.xml", "concurrency": 1}
        await create_source(engine, source, name, "site", settings)
        async with admin(url) as http:
            started = (await http.post(f"/admin/api/collections/{name}/sync")).json()
            deadline = time.monotonic() + 30
            # A job is running before its first progress report: wait for both.
            while (
                (job := (await listed(http))[source]["job"]) is None
                or job["state"] != "running"
                or "source" not in job["progress"]
            ):
                assert job is not None and time.monotonic() < deadline, job
                await asyncio.sleep(0.1)
            assert job["id"] == started["job"] and job["url"] == started["url"]
            assert job["progress"]["source"] == source and job["progress"]["sources"] == 1
            while (s := (await listed(http))[source])["job"] is not None:
                assert time.monotonic() < deadline + 30
                await asyncio.sleep(0.2)
    assert s["last_sync"]["added"] == 9 and s["failing"] == 0


@pytest.fixture
async def serving_app(settings, collection):  # noqa: F811
    """(url, app) of the app with the admin API and no job worker: jobs stay queued."""
    from app import create_app

    update = {"admin_token": SecretStr(ADMIN_TOKEN), "collection": collection, "worker": False}
    app = create_app(settings.model_copy(update=update))
    async with LiveServer(app) as live:
        yield live.url, app


def over_budget_file() -> bytes:
    """A page that takes longer than a 0.05 s budget to parse: its upload lists it as failed."""
    return b"## Options\n\nSome text about options.\n\n" * 40_000


async def test_queued_upload_and_sync_jobs_are_listed_and_cancelled(serving_app, engine):
    url, _ = serving_app
    name, synced, source = new_id("up"), new_id("c"), new_id("s")
    await create_source(engine, source, synced, "site", {"sitemap": "http://127.0.0.1:9/sitemap.xml"})
    async with admin(url) as http:
        first = (await post_upload(http, name, DOCS)).json()
        second = (await post_upload(http, name, DOCS)).json()
        sync = (await http.post(f"/admin/api/collections/{synced}/sync")).json()
        sources = await listed(http)
        folder = sources[f"{name} (folder)"]
        assert folder["kind"] == "folder" and folder["origin"].startswith("0 documents")
        assert folder["job"] is None and folder["last_upload"] is None
        assert [(u["id"], u["kind"], u["state"]) for u in folder["uploads"]] == [
            (first["job"], "upload", "queued"),
            (second["job"], "upload", "queued"),
        ]
        upload = folder["uploads"][0]
        assert upload["url"] == first["url"] and upload["cancel_url"] == first["url"] + "/cancel"
        job = sources[source]["job"]
        assert (job["id"], job["kind"], job["state"]) == (sync["job"], "sync", "queued")
        assert sources[source]["uploads"] == [] and sources[source]["last_upload"] is None

        assert (await http.post(job["cancel_url"])).json()["state"] == "cancelled"
        assert (await http.post(upload["cancel_url"])).json()["state"] == "cancelled"
        sources = await listed(http)
        assert sources[source]["job"] is None
        assert [u["id"] for u in sources[f"{name} (folder)"]["uploads"]] == [second["job"]]
        assert (await http.get(first["url"])).json()["state"] == "cancelled"
        assert await upload_rows(engine, name) == (2, 1, 1)  # the cancelled one's archive is gone

        assert (await http.post(f"/admin/api/jobs/{second['job']}/cancel")).status_code == 200
        assert f"{name} (folder)" not in await listed(http)  # nothing uploaded, nothing queued
        assert await upload_rows(engine, name) == (2, 0, 0)
        assert_error(await http.post(upload["cancel_url"]), 409, "job_ended")


async def test_the_last_upload_result_with_its_failed_files(admin_app, engine, monkeypatch):  # noqa: F811
    url, _ = admin_app
    monkeypatch.setattr(ingest_module, "FILE_BUDGET_SECONDS", 0.05)
    name, broken = new_id("up"), new_id("up")
    async with admin(url) as http:
        started = (await post_upload(http, name, {**DOCS, "docs/huge.md": over_budget_file()})).json()
        assert (await until_ended(http, started["url"]))["state"] == "succeeded"
        refused = (await post_upload(http, broken, {"node_modules/pkg/readme.md": b"# Package\n"})).json()
        assert (await until_ended(http, refused["url"]))["state"] == "failed"
        sources = await listed(http)
    folder = sources[f"{name} (folder)"]
    last = folder["last_upload"]
    assert folder["uploads"] == [] and folder["origin"].startswith("3 documents")
    assert (last["job"], last["state"], last["error"]) == (started["job"], "succeeded", None)
    assert last["counts"] == {"added": 3, "changed": 0, "removed": 0, "unchanged": 0, "failed": 1}
    assert last["failures"] == ["docs/huge.md (took over 0.05 s to parse)"]
    assert last["at"] and last["seconds"] > 0 and last["superseded_by"] is None
    failed = sources[f"{broken} (folder)"]["last_upload"]
    assert failed["state"] == "failed" and "no documentation files" in failed["error"]
    assert failed["counts"] is None and failed["failures"] == []


async def test_a_running_upload_shows_files_done_of_total(admin_app):  # noqa: F811
    from tests.docsdesk.jobs.test_uploads import many_pages

    url, _ = admin_app
    name = new_id("up")
    async with admin(url) as http:
        started = (await post_upload(http, name, many_pages(1500))).json()
        deadline = time.monotonic() + 60
        seen = []  # polled at most ~7 times a second: the admin API is rate limited
        while (folder := (await listed(http))[f"{name} (folder)"])["uploads"]:
            seen += [u["progress"] for u in folder["uploads"] if u["state"] == "running"]
            assert time.monotonic() < deadline
            await asyncio.sleep(0.15)
        assert (await http.get(started["url"])).json()["state"] == "succeeded"
    ingesting = [p for p in seen if p.get("stage") == "ingesting"]
    assert ingesting, seen  # the console saw it ingesting, with its files done of total
    assert all(p["files"] == 1500 and 0 <= p["done"] <= 1500 for p in ingesting)
    assert folder["uploads"] == [] and folder["last_upload"]["counts"]["added"] == 1500
