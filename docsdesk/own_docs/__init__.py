"""docsdesk's own documentation, shipped as package data: what a server started without
documentation indexes (collection `docsdesk`) and serves at `/about/{name}`."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def own_docs() -> dict[str, Traversable]:
    """name -> readable resource, for every Markdown page shipped in this package."""
    root = files(__name__)
    return {
        entry.name: entry
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".md")
    }
