"""`docsdesk ingest --url` as a real process against a live server: the folder is packed and
uploaded, the command follows the server's ingest job, says its progress and prints its summary;
a second upload removes what went; a job that does not succeed (cancelled here) exits 1 with
why; a bad token is one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from sqlalchemy import text

from docsdesk.jobs.queue import cancel_job
from tests.docsdesk.cli.test_cli import REPO, run_cli
from tests.docsdesk.http.test_admin_upload import working_app  # noqa: F401 - fixture
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin_app, collection  # noqa: F401 - fixtures
from tests.docsdesk.jobs.support import until
from tests.support import new_id, write_pages


def ingest_args(url: str, name: str, docs) -> list[str]:
    return [
        "ingest",
        "--url",
        url,
        "--collection",
        name,
        "--base-url",
        "https://docs.example.test/",
        str(docs),
    ]


async def test_ingest_url_uploads_a_folder_and_waits_for_its_job(working_app, engine, tmp_path):  # noqa: F811
    url, _ = working_app
    name = new_id("ci")
    docs = write_pages(
        tmp_path / "docs",
        {"index.md": "# Home\n\nWelcome.\n", "guide/setup.md": "# Setup\n\nInstall it.\n", "notes.txt": "no"},
    )
    (docs / "link.md").symlink_to(docs / "index.md")
    args = ingest_args(url, name, docs)
    first = await asyncio.to_thread(run_cli, *args, "--token", ADMIN_TOKEN)
    assert first.returncode == 0, first.stderr
    assert f"into collection '{name}' (job " in first.stdout and "): 2 added, 0 changed" in first.stdout
    assert "failed" in first.stdout and len(first.stdout.strip().splitlines()) == 1
    assert "job " in first.stderr and "ingests it into collection" in first.stderr
    (docs / "guide" / "setup.md").unlink()
    second = await asyncio.to_thread(lambda: run_cli(*args, DOCSDESK_ADMIN_TOKEN=ADMIN_TOKEN))
    assert second.returncode == 0 and "1 removed" in second.stdout, second.stdout + second.stderr
    async with engine.connect() as conn:
        paths = (
            await conn.execute(
                text("SELECT source_path FROM docs_documents WHERE collection = :c"), {"c": name}
            )
        ).scalars()
        assert sorted(paths) == ["index.md"]
    refused = await asyncio.to_thread(run_cli, *args, "--token", "wrong")
    assert refused.returncode == 1 and "refused the upload (401)" in refused.stderr
    assert "Traceback" not in refused.stderr


def start_ingest(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "docsdesk", *args],
        cwd=REPO,
        env={**os.environ, "DOCSDESK_ADMIN_TOKEN": ADMIN_TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_ingest_url_exits_1_when_the_job_does_not_succeed(admin_app, engine, tmp_path):  # noqa: F811
    url, _ = admin_app  # no worker: the job stays queued until cancelled
    name = new_id("ci")
    docs = write_pages(tmp_path / "docs", {"index.md": "# Home\n\nWelcome.\n"})
    process = start_ingest(*ingest_args(url, name, docs), "--wait", "60")
    try:

        async def job_id() -> int | None:
            async with engine.connect() as conn:
                return (
                    await conn.execute(
                        text("SELECT max(id) FROM docs_jobs WHERE collection = :c"), {"c": name}
                    )
                ).scalar()

        await until(job_id, within=60)
        job = await job_id()
        await asyncio.sleep(1.5)  # the command is following the job
        assert process.poll() is None
        assert await cancel_job(engine, job)
        stdout, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stdout + stderr
    assert f"job {job} queued" in stderr  # its progress, while it waited
    assert f"docsdesk: error: job {job} cancelled" in stderr and "Traceback" not in stderr
    assert stdout == ""
