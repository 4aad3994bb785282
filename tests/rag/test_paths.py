"""Ingestion reads only regular files inside the source root (issue 23, item 2): symlinks out
of the docs folder (a secret next to it, /proc/self/environ), FIFOs and device files are
skipped and listed in the summary, never indexed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from rag.ingest import ingest
from rag.paths import inside_root, open_regular
from rag.sources import FolderSource, SourceError
from tests.support import new_id

BASE = "https://docs.example.test/"


def hostile_folder(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_text("DOCSDESK_SECRET_KEY=hunter2-outside-the-root\n")
    docs = tmp_path / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / "index.md").write_text("# Welcome\n\nThe gizmo toolkit.\n")
    (docs / "guides" / "real.md").write_text("# Real\n\nInside the root.\n")
    (docs / "leak.md").symlink_to("../secret.txt")
    (docs / "env.md").symlink_to("/proc/self/environ")
    (docs / "alias.md").symlink_to("guides/real.md")  # inside the root: read
    (docs / "dangling.md").symlink_to("nowhere.md")
    os.mkfifo(docs / "pipe.md")
    (docs / "outside").symlink_to(tmp_path, target_is_directory=True)
    return docs


def test_inside_root_names_why_a_path_is_refused(tmp_path):
    docs = hostile_folder(tmp_path)
    assert inside_root(docs, docs / "index.md") is None
    assert inside_root(docs, docs / "alias.md") is None
    assert "outside" in inside_root(docs, docs / "leak.md")
    assert "outside" in inside_root(docs, docs / "env.md")
    assert "not a regular file" in inside_root(docs, docs / "pipe.md")
    assert inside_root(docs, docs / "dangling.md") is not None
    assert "outside" in inside_root(docs, docs / "outside" / "secret.txt")


async def test_symlinks_out_of_the_docs_folder_are_skipped_and_listed(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCSDESK_CANARY", "canary-from-the-environment")
    docs = hostile_folder(tmp_path)
    collection = f"paths-{new_id()}"
    summary = await ingest(engine, [docs], base_url=BASE, collection=collection)
    async with engine.connect() as conn:
        paths = set(
            (
                await conn.scalars(
                    text("SELECT source_path FROM docs_documents WHERE collection = :c"), {"c": collection}
                )
            ).all()
        )
        texts = " ".join(
            (
                await conn.scalars(
                    text("SELECT text FROM docs_chunks WHERE collection = :c"), {"c": collection}
                )
            ).all()
        )
    assert paths == {"index.md", "guides/real.md", "alias.md"}
    assert "hunter2" not in texts and "canary-from-the-environment" not in texts
    assert sorted(summary.skipped) == [
        "dangling.md (a broken or looping link)",
        "env.md (a link to a file outside the source root)",
        "leak.md (a link to a file outside the source root)",
        "pipe.md (not a regular file)",
    ]
    assert "leak.md (a link to a file outside the source root)" in summary.describe()


def test_open_regular_refuses_links_and_fifos_without_blocking(tmp_path):
    docs = hostile_folder(tmp_path)
    with open_regular(docs / "index.md") as file:
        assert file.read().startswith(b"# Welcome")
    with pytest.raises(OSError):
        open_regular(docs / "pipe.md")  # would block forever with a plain open()
    with pytest.raises(OSError):
        open_regular(docs / "leak.md")


async def test_a_file_swapped_for_a_link_after_the_walk_is_not_read(tmp_path):
    docs = hostile_folder(tmp_path)
    [source] = FolderSource.discover([docs], base_url=BASE, url_style="mkdocs")
    assert "index.md" in source.keys
    (docs / "index.md").unlink()
    (docs / "index.md").symlink_to("../secret.txt")
    with pytest.raises(SourceError, match="outside the source root"):
        [document async for document in source.documents()]
