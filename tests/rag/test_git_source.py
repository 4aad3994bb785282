"""The git source against a repository made in the test with the git CLI: a commit's files
(not the working tree), incremental by blob id, renames and deletions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from rag.ingest import IngestError
from rag.source_state import SourceStateError
from rag.source_sync import create_source, sync_source
from tests.support import new_id, write_pages


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.test",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def make_repo(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write_pages(
        root,
        {
            "README.md": "# Repo readme, outside docs/\n",
            "docs/index.md": "# Home\n\nWelcome to the widget docs.\n",
            "docs/guide/install.md": "# Install\n\n## Requirements\n\nPython 3.11 and a widget.\n",
            "docs/guide/old.md": "# Old page\n\nThis page goes away.\n",
            "docs/ref.md": "# Reference\n\nThe flags of the widget.\n",
            "docs/logo.png": "not a page",
        },
    )
    (root / "docs" / "link.md").symlink_to("/etc/passwd")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    return root


async def documents(engine, collection: str) -> dict[str, tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT source_path, page_url, content_hash FROM docs_documents WHERE collection = :c"),
            {"c": collection},
        )
        return {path: (url, digest) for path, url, digest in rows}


async def test_git_source_reads_a_commit_and_resyncs_by_blob_id(engine, tmp_path):
    repo = make_repo(tmp_path / "repo")
    name, collection = new_id("g"), new_id("c")
    await create_source(
        engine,
        name,
        collection,
        "git",
        {"repo": str(repo), "ref": "main", "path": "docs/", "base_url": "https://docs.example.test/"},
    )
    first = await sync_source(engine, name, cache_dir=tmp_path / "cache")
    assert (first.fetched, first.added, first.failed) == (4, 4, 0)
    stored = await documents(engine, collection)
    assert set(stored) == {"index.md", "guide/install.md", "guide/old.md", "ref.md"}  # no link, no README
    assert stored["guide/install.md"][0] == "https://docs.example.test/guide/install/"

    # The working tree is not what is read: an uncommitted edit changes nothing.
    (repo / "docs" / "ref.md").write_text("# Reference\n\nUncommitted.\n")
    again = await sync_source(engine, name, cache_dir=tmp_path / "cache")
    assert (again.fetched, again.unchanged, again.changed) == (0, 4, 0)

    # Second commit: a rename, a deletion, an edit.
    git(repo, "checkout", "-q", "--", "docs/ref.md")
    git(repo, "mv", "docs/guide/install.md", "docs/guide/setup.md")
    git(repo, "rm", "-q", "docs/guide/old.md")
    (repo / "docs" / "index.md").write_text("# Home\n\nWelcome to the gizmo docs.\n")
    git(repo, "commit", "-q", "-am", "second")
    second = await sync_source(engine, name, cache_dir=tmp_path / "cache")
    assert (second.fetched, second.added, second.changed, second.removed, second.unchanged) == (2, 1, 1, 2, 1)
    after = await documents(engine, collection)
    assert set(after) == {"index.md", "guide/setup.md", "ref.md"}
    assert after["guide/setup.md"][0] == "https://docs.example.test/guide/setup/"
    assert after["ref.md"] == stored["ref.md"]


async def test_a_repository_url_is_cloned_and_fetched(engine, tmp_path):
    repo = make_repo(tmp_path / "repo")
    name, collection = new_id("g"), new_id("c")
    await create_source(engine, name, collection, "git", {"repo": f"file://{repo}", "path": "docs"})
    first = await sync_source(engine, name, cache_dir=tmp_path / "cache")
    assert first.added == 4
    (repo / "docs" / "ref.md").write_text("# Reference\n\nNew flags.\n")
    git(repo, "commit", "-q", "-am", "edit")
    second = await sync_source(engine, name, cache_dir=tmp_path / "cache")
    assert (second.fetched, second.changed, second.unchanged) == (1, 1, 3)


async def test_bad_git_sources_are_one_line_errors(engine, tmp_path):
    with pytest.raises(SourceStateError, match="git ref"):
        await create_source(
            engine, new_id("g"), "c", "git", {"repo": str(tmp_path), "ref": "--upload-pack=x"}
        )
    with pytest.raises(SourceStateError, match="a folder inside"):
        await create_source(engine, new_id("g"), "c", "git", {"repo": str(tmp_path), "path": "../x"})
    name = new_id("g")
    await create_source(engine, name, new_id("c"), "git", {"repo": str(tmp_path / "nothing")})
    with pytest.raises(IngestError, match="git:"):
        await sync_source(engine, name, cache_dir=tmp_path / "cache")
    repo = make_repo(tmp_path / "repo")
    name = new_id("g")
    await create_source(engine, name, new_id("c"), "git", {"repo": str(repo), "ref": "no-such-branch"})
    with pytest.raises(IngestError, match="git:"):
        await sync_source(engine, name, cache_dir=tmp_path / "cache")
