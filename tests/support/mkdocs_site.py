"""The test docs site built with mkdocs (`mkdocs build`, a dev dependency) from the project in
tests/fixtures/mkdocs_site, as the pages `tests.support.docs_site.DocsSite` serves.

Builds run as a real `mkdocs` process with SOURCE_DATE_EPOCH fixed, so two builds of the same
Markdown give the same bytes and a page changes only when its Markdown (or the navigation) does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent / "fixtures" / "mkdocs_site"
PAGES = ("", "guide/install/", "guide/configure/", "troubleshooting/", "changelog/")


def build(dest: Path, *, theme: str = "mkdocs", edits: dict[str, str] | None = None) -> Path:
    """`mkdocs build` of the fixture project into `dest`/site, with `theme` and the Markdown
    files in `edits` ({path under docs/: new text}) replaced; the built site's folder."""
    project = dest / "project"
    shutil.copytree(PROJECT, project)
    config = project / "mkdocs.yml"
    config.write_text(config.read_text().replace("name: mkdocs", f"name: {theme}"))
    for name, text in (edits or {}).items():
        (project / "docs" / name).write_text(text)
    site = dest / "site"
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--strict", "--site-dir", str(site)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return site


def pages(site: Path, prefix: str = "/docs/") -> dict[str, str]:
    """{URL path under `prefix`: HTML} of the built site's pages (its 404 page left out)."""
    found = {}
    for path in sorted(site.rglob("index.html")):
        relative = path.parent.relative_to(site).as_posix()
        found[prefix + ("" if relative == "." else relative + "/")] = path.read_text(encoding="utf-8")
    return found


@pytest.fixture(scope="session")
def mkdocs_site(tmp_path_factory) -> dict[str, str]:
    """The fixture project built once per session with the default mkdocs theme: its pages
    under /docs/."""
    return pages(build(tmp_path_factory.mktemp("mkdocs")))
