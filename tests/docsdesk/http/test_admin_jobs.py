"""POST /admin/api/collections/{name}/sync and GET /admin/api/jobs/{id} over real HTTP: the
app's in-process worker runs the job; bad names and ids are 4xx naming the problem."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr

from rag.source_sync import create_source
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin, collection  # noqa: F401 - fixtures
from tests.docsdesk.ops.test_ops_http import assert_error
from tests.support import LiveServer, new_id
from tests.support.docs_site import DocsSite, generated_site


@pytest.fixture
async def admin_app(settings, collection):  # noqa: F811
    """(url, app) of the app with the admin API and its in-process job worker on."""
    from app import create_app

    update = {"admin_token": SecretStr(ADMIN_TOKEN), "collection": collection, "worker": True}
    app = create_app(settings.model_copy(update=update))
    async with LiveServer(app) as live:
        yield live.url, app


async def test_sync_endpoint_starts_a_job_the_server_runs(admin_app, engine):
    url, _ = admin_app
    name, source = new_id("c"), new_id("s")
    with DocsSite(generated_site(3)) as site:
        for path in site.pages:
            site.delays[path] = 0.2
        await create_source(engine, source, name, "site", {"sitemap": f"{site.origin}/sitemap.xml"})
        async with admin(url) as http:
            started = await http.post(f"/admin/api/collections/{name}/sync")
            assert started.status_code == 202, started.text
            body = started.json()
            assert body["created"] is True and started.headers["location"] == body["url"]
            again = await http.post(f"/admin/api/collections/{name}/sync")
            assert again.status_code == 202 and again.json()["job"] == body["job"]
            deadline = time.monotonic() + 60
            while True:
                job = (await http.get(body["url"])).json()
                if job["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert job["state"] == "succeeded", job
            assert job["collection"] == name and job["sources"] == [source]
            assert job["result"]["sources"][source]["added"] == 4
            assert job["progress"]["done"][source]["added"] == 4 and job["progress"]["source"] is None

            assert_error(await http.post("/admin/api/collections/no-such-collection/sync"), 404, "no_sources")
            assert_error(await http.post("/admin/api/collections/bad name!/sync"), 400, "invalid_name")
            assert_error(
                await http.post(f"/admin/api/collections/{name}/sync", params={"source": "other"}),
                404,
                "no_sources",
            )
            assert_error(await http.get("/admin/api/jobs/abc"), 400, "invalid_job_id")
            assert_error(await http.get("/admin/api/jobs/999999999999"), 404, "not_found")
            assert_error(await http.post(f"/admin/api/jobs/{body['job']}/cancel"), 409, "job_ended")
        async with admin(url, token="wrong") as http:
            assert (await http.post(f"/admin/api/collections/{name}/sync")).status_code == 401


async def test_a_running_sync_is_cancelled(admin_app, engine):
    url, _ = admin_app
    name, source = new_id("c"), new_id("s")
    with DocsSite(generated_site(30)) as site:
        for path in site.pages:
            site.delays[path] = 0.3
        settings = {"sitemap": f"{site.origin}/sitemap.xml", "concurrency": 1, "rate": 1000.0}
        await create_source(engine, source, name, "site", settings)
        async with admin(url) as http:
            job_url = (await http.post(f"/admin/api/collections/{name}/sync")).json()["url"]
            deadline = time.monotonic() + 30
            while (await http.get(job_url)).json()["state"] != "running" or site.count(status=200) < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            cancelled = await http.post(job_url + "/cancel")
            assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
            await asyncio.sleep(1.5)  # the cancellation reaches the worker (NOTIFY)
            read = site.count()
            await asyncio.sleep(1.5)
            assert site.count() == read  # it stopped reading the site
            job = (await http.get(job_url)).json()
            assert job["state"] == "cancelled" and job["finished_at"], job
            assert site.count(status=200) < 31
