"""POST /admin/api/collections/{name}/upload over real HTTP: a docs folder as .tar.gz is
checked and stored with the job that ingests it (202 with the job's id); the app's in-process
worker runs the job (a second upload re-chunks only what changed and removes what went), and
hostile archives (`..`, absolute paths, links, devices, too large, not gzip) are refused with a
4xx naming the problem, no job and nothing stored."""

from __future__ import annotations

import asyncio
import gzip
import io
import random
import tarfile
import time

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from rag import upload as upload_module
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin, admin_app, collection  # noqa: F401 - fixtures
from tests.docsdesk.ops.test_ops_http import assert_error
from tests.support import LiveServer, new_id


@pytest.fixture
async def working_app(settings, collection):  # noqa: F811
    """(url, app) of the app with the admin API and its in-process job worker on."""
    from app import create_app

    update = {"admin_token": SecretStr(ADMIN_TOKEN), "collection": collection, "worker": True}
    app = create_app(settings.model_copy(update=update))
    async with LiveServer(app) as live:
        yield live.url, app


def archive(files: dict[str, bytes], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tar.addfile(info)
    return buffer.getvalue()


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


async def document_paths(engine, name: str) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT source_path FROM docs_documents WHERE collection = :c"), {"c": name}
        )
        return {row[0] for row in rows}


DOCS = {
    "docs/index.md": b"# Home\n\nWelcome to the uploaded docs.\n",
    "docs/guide/setup.md": b"# Setup\n\n## Install\n\nRun the installer.\n",
    "docs/guide/old.md": b"# Old\n\nGoing away.\n",
}


async def upload_rows(engine, name: str) -> tuple[int, int, int]:
    """(jobs, stored archives, stored archive parts) of collection `name`."""
    async with engine.connect() as conn:
        row = await conn.execute(
            text(
                "SELECT (SELECT count(*) FROM docs_jobs WHERE collection = :c),"
                " (SELECT count(*) FROM docs_uploads WHERE collection = :c),"
                " (SELECT count(*) FROM docs_upload_parts p JOIN docs_uploads u USING (job_id)"
                " WHERE u.collection = :c)"
            ),
            {"c": name},
        )
        return tuple(row.one())  # type: ignore[return-value]


async def until_ended(http, url: str, within: float = 60) -> dict:
    deadline = time.monotonic() + within
    while True:
        job = (await http.get(url)).json()
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, job
        await asyncio.sleep(0.1)


async def post_upload(http, name: str, files: dict[str, bytes], **params):
    return await http.post(
        f"/admin/api/collections/{name}/upload",
        params={"base_url": "https://docs.example.test/", **params},
        content=archive(files),
        headers={"Content-Type": "application/gzip"},
    )


async def test_upload_answers_202_and_a_job_ingests_it(working_app, engine):
    url, app = working_app
    name = new_id("up")
    async with admin(url) as http:
        first = await post_upload(http, name, DOCS)
        assert first.status_code == 202, first.text
        body = first.json()
        assert (
            body["state"] == "queued"
            and first.headers["location"] == body["url"] == f"/admin/api/jobs/{body['job']}"
        )
        job = await until_ended(http, body["url"])
        assert job["state"] == "succeeded" and job["kind"] == "upload" and job["attempts"] == 1, job
        result = job["result"]
        assert (result["added"], result["changed"], result["removed"], result["failed"]) == (3, 0, 0, 0)
        assert result["chunks"] > 0 and result["summary"].startswith("3 added, 0 changed, 0 removed")
        assert job["progress"] == {"stage": "done", "files": 3, "done": 3}
        assert await document_paths(engine, name) == {
            "docs/index.md",
            "docs/guide/setup.md",
            "docs/guide/old.md",
        }
        found = await app.state.services.search.search("installer", collections=[name])
        assert found and found[0].url.startswith("https://docs.example.test/docs/guide/setup/")
        assert await upload_rows(engine, name) == (1, 0, 0)  # the archive went with its job

        changed = {**DOCS, "docs/index.md": b"# Home\n\nNew welcome.\n"}
        del changed["docs/guide/old.md"]
        second = await until_ended(http, (await post_upload(http, name, changed)).json()["url"])
        result = second["result"]
        assert (result["added"], result["changed"], result["removed"], result["unchanged"]) == (0, 1, 1, 1), (
            second
        )
        assert await document_paths(engine, name) == {"docs/index.md", "docs/guide/setup.md"}
    async with admin(url, "wrong-token") as intruder:
        refused = await intruder.post(f"/admin/api/collections/{name}/upload", content=archive(DOCS))
        assert_error(refused, 401, "invalid_admin_token")
    assert (await upload_rows(engine, name))[0] == 2


async def test_an_archive_the_job_cannot_ingest_fails_the_job_once(working_app, engine):
    url, _ = working_app
    name = new_id("up")
    async with admin(url) as http:  # its one page is in a folder ingestion skips
        started = await post_upload(http, name, {"node_modules/pkg/readme.md": b"# Package\n"})
        assert started.status_code == 202, started.text
        job = await until_ended(http, started.json()["url"])
    assert job["state"] == "failed" and job["attempts"] == 1, job
    assert "no documentation files" in job["error"]
    assert await upload_rows(engine, name) == (1, 0, 0) and await document_paths(engine, name) == set()


async def test_an_upload_waits_in_the_database_until_a_worker_runs_it(admin_app, engine):  # noqa: F811
    """Without a worker the job stays queued with its archive stored; cancelling it drops both."""
    url, _ = admin_app
    name = new_id("up")
    async with admin(url) as http:
        started = await post_upload(http, name, DOCS)
        assert started.status_code == 202, started.text
        job_url = started.json()["url"]
        jobs, archives, parts = await upload_rows(engine, name)
        assert (jobs, archives, parts) == (1, 1, 1)
        assert (await http.get(job_url)).json()["state"] == "queued"
        cancelled = await http.post(job_url + "/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert await upload_rows(engine, name) == (1, 0, 0)


async def test_a_large_archive_is_stored_in_parts(admin_app, engine, tmp_path):  # noqa: F811
    from docsdesk.jobs import uploads

    url, _ = admin_app
    name = new_id("up")
    pages = {
        f"docs/page-{i}.md": f"# Page {i}\n\n{random.randbytes(40_000).hex()}\n".encode() for i in range(40)
    }
    async with admin(url) as http:
        started = await post_upload(http, name, pages)
        assert started.status_code == 202, started.text
        job_id = started.json()["job"]
        _, _, parts = await upload_rows(engine, name)
        size = len(archive(pages))
        assert parts == -(-size // uploads.PART_BYTES) > 1
        base_url, url_style, stored = await uploads.upload_target(engine, job_id)
        assert (base_url, url_style) == ("https://docs.example.test/", "mkdocs") and stored > 0
        await uploads.read_archive(engine, job_id, tmp_path / "back.tar.gz", stored)
        with tarfile.open(tmp_path / "back.tar.gz") as tar:
            assert sorted(tar.getnames()) == sorted(pages)
        await http.post(f"/admin/api/jobs/{job_id}/cancel")


@pytest.mark.parametrize(
    ("files", "extra", "status", "words"),
    [
        ({"docs/../../escape.md": b"# x\n"}, None, 400, "a path out of the folder"),
        ({"/etc/evil.md": b"# x\n"}, None, 400, "absolute path"),
        ({"docs/a.md": b"# a\n"}, [link("docs/passwd.md", "/etc/passwd")], 400, "links are not accepted"),
        (
            {"docs/a.md": b"# a\n"},
            [link("docs/hard.md", "docs/a.md", tarfile.LNKTYPE)],
            400,
            "links are not accepted",
        ),
        ({"docs/a.md": b"# a\n"}, [link("docs/fifo", "", tarfile.FIFOTYPE)], 400, "only files and folders"),
        ({"docs/notes.txt": b"text"}, None, 400, "no documentation files"),
    ],
)
async def test_hostile_archives_are_refused_and_nothing_is_ingested(
    admin_app,  # noqa: F811
    engine,
    files,
    extra,
    status,
    words,
):
    url, _ = admin_app
    name = new_id("up")
    async with admin(url) as http:
        response = await http.post(f"/admin/api/collections/{name}/upload", content=archive(files, extra))
    error = assert_error(response, status, "invalid_archive")
    assert words in error["message"]
    assert await document_paths(engine, name) == set()
    assert await upload_rows(engine, name) == (0, 0, 0)  # no job, nothing stored


async def test_oversized_and_malformed_uploads(admin_app, engine, monkeypatch):  # noqa: F811
    url, _ = admin_app
    name = new_id("up")
    monkeypatch.setattr(upload_module, "MAX_UNPACKED_BYTES", 1000)
    from docsdesk.http import admin_upload

    monkeypatch.setattr(admin_upload, "MAX_UPLOAD_BYTES", 5000)
    async with admin(url) as http:
        bomb = archive({"docs/big.md": b"# Big\n" + b"a" * 5000})  # compresses well under the limit
        assert_error(
            await http.post(f"/admin/api/collections/{name}/upload", content=bomb), 413, "upload_too_large"
        )
        noise = gzip.compress(bytes(range(256)) * 100, compresslevel=0)
        too_big = await http.post(f"/admin/api/collections/{name}/upload", content=noise)
        assert_error(too_big, 413, "upload_too_large")

        async def chunked():  # no Content-Length: the limit applies to what is streamed
            for _ in range(10):
                yield b"\x1f\x8b" + b"x" * 998

        streamed = await http.post(f"/admin/api/collections/{name}/upload", content=chunked())
        assert_error(streamed, 413, "upload_too_large")
        not_gzip = await http.post(f"/admin/api/collections/{name}/upload", content=b"PK\x03\x04 a zip")
        assert_error(not_gzip, 400, "invalid_archive")
        truncated = await http.post(f"/admin/api/collections/{name}/upload", content=archive(DOCS)[:200])
        assert_error(truncated, 400, "invalid_archive")
        bad_name = await http.post("/admin/api/collections/..%2Fx/upload", content=archive(DOCS))
        assert bad_name.status_code in (400, 404)
        bad_url = await http.post(
            f"/admin/api/collections/{name}/upload", params={"url_style": "hugo"}, content=archive(DOCS)
        )
        assert_error(bad_url, 400, "invalid_parameter")
        relative = await http.post(
            f"/admin/api/collections/{name}/upload",
            params={"base_url": "docs.example"},
            content=archive(DOCS),
        )
        assert_error(relative, 400, "invalid_parameter")
    assert await document_paths(engine, name) == set()
    assert await upload_rows(engine, name) == (0, 0, 0)
