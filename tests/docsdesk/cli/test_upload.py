"""`docsdesk ingest --url` as a real process against a live server: the folder is packed,
uploaded and ingested; a second upload removes what went; a bad token is one line."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from tests.docsdesk.cli.test_cli import run_cli
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin_app, collection  # noqa: F401 - fixtures
from tests.support import new_id, write_pages


async def test_ingest_url_uploads_a_folder(admin_app, engine, tmp_path):  # noqa: F811
    url, _ = admin_app
    name = new_id("ci")
    docs = write_pages(
        tmp_path / "docs",
        {"index.md": "# Home\n\nWelcome.\n", "guide/setup.md": "# Setup\n\nInstall it.\n", "notes.txt": "no"},
    )
    (docs / "link.md").symlink_to(docs / "index.md")
    args = [
        "ingest",
        "--url",
        url,
        "--collection",
        name,
        "--base-url",
        "https://docs.example.test/",
        str(docs),
    ]
    first = await asyncio.to_thread(run_cli, *args, "--token", ADMIN_TOKEN)
    assert first.returncode == 0, first.stderr
    assert f"into collection '{name}'" in first.stdout and "2 files added" in first.stdout
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
