"""A document before it is written: fingerprint, text, chunks within the time budget."""

from __future__ import annotations

import dataclasses

import pytest

from rag.budget import OverBudget
from rag.ingest_parse import chunk_within_budget, decode_text, fingerprint
from rag.sources import Document

PAGE = Document("a.md", "https://x.test/a/", "text/markdown", b"# A\n\nText.\n", "v1")


def test_fingerprint_follows_bytes_url_media_type_and_anchor_style():
    base = fingerprint(PAGE, "mkdocs")
    assert fingerprint(dataclasses.replace(PAGE, version="v2"), "mkdocs") == base
    for changed in (
        dataclasses.replace(PAGE, data=b"# B\n"),
        dataclasses.replace(PAGE, url="https://x.test/b/"),
        dataclasses.replace(PAGE, media_type="text/mdx"),
    ):
        assert fingerprint(changed, "mkdocs") != base
    assert fingerprint(PAGE, "docusaurus") != base


def test_decode_text_drops_bom_and_nul_and_replaces_bad_bytes():
    assert decode_text(b"\xef\xbb\xbfa\x00b", "a.md") == "ab"
    assert decode_text(b"caf\xe9", "a.md") == "caf\ufffd"


def test_chunking_past_the_budget_raises_over_budget():
    raw = "## Options\n\nSome text about options.\n\n" * 20_000
    with pytest.raises(OverBudget):
        chunk_within_budget(PAGE, raw, "mkdocs", "default", 0.01)
    chunks = chunk_within_budget(PAGE, "# A\n\nText.\n", "mkdocs", "default", 10.0)
    assert [c.url for c in chunks] == ["https://x.test/a/#a"]
