"""docsdesk's own documentation, shipped as package data: what a server started without
documentation indexes (collection `docsdesk`) and serves at `/about/{name}`."""

from __future__ import annotations

import shutil
import tempfile
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path


def own_docs() -> dict[str, Traversable]:
    """name -> readable resource, for every Markdown page shipped in this package."""
    root = files(__name__)
    return {
        entry.name: entry
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".md")
    }


def own_docs_root() -> Path:
    """A directory holding docsdesk's own Markdown pages (the package's own_docs; copied to a
    temporary directory when the package is not on a plain file system, e.g. a zip)."""
    pages = own_docs()
    first = next(iter(pages.values()))
    if isinstance(first, Path):
        return first.parent.resolve()
    target = Path(tempfile.mkdtemp(prefix="docsdesk-own-docs-")).resolve()
    for name, resource in pages.items():
        with resource.open("rb") as source, (target / name).open("wb") as out:
            shutil.copyfileobj(source, out)
    return target
