"""Collections: listing and removal, docsdesk's own docs as a separate demo collection that the
assistant serves only until the configured collection has documents, and public URLs."""

from __future__ import annotations

import pytest

from docsdesk.own_docs import own_docs_root
from rag import collections
from rag.collections import (
    OWN_COLLECTION,
    ServingCollection,
    collection_summary,
    ingest_own_docs,
    list_collections,
    remove_collection,
    serving_collection,
)
from rag.ingest import ingest
from rag.search import DocsSearch
from rag.urls import absolute_url
from tests.support import FIXTURE_DOCS, new_id


async def test_own_docs_live_in_their_own_collection_with_site_relative_urls(engine):
    await ingest_own_docs(engine, None, own_docs_root())
    summary = await collection_summary(engine, OWN_COLLECTION)
    assert summary.files >= 3 and summary.chunks > summary.files
    results = await DocsSearch(engine, public_url="https://help.example.org").search(
        "deploy behind a load balancer", collection=OWN_COLLECTION
    )
    assert results and all(r.url.startswith("https://help.example.org/about/") for r in results)
    again = await ingest_own_docs(engine, None, own_docs_root())
    assert again.added == 0 and again.changed == 0  # incremental like any ingest


async def test_the_configured_collection_takes_over_once_it_has_documents(engine, monkeypatch):
    await ingest_own_docs(engine, None, own_docs_root())
    configured = new_id("site")
    assert await serving_collection(engine, configured) == OWN_COLLECTION
    serving = ServingCollection(engine, configured)
    assert await serving.name() == OWN_COLLECTION
    await ingest(engine, [FIXTURE_DOCS], base_url="https://lantern.test/", collection=configured)
    monkeypatch.setattr(collections, "SERVING_RECHECK_SECONDS", 0.0)
    assert await serving.name() == configured
    # The demo is never mixed in: the operator's collection holds only the operator's pages.
    results = await DocsSearch(engine).search("deploy docsdesk", collection=configured, k=10)
    assert all(r.url.startswith("https://lantern.test/") for r in results)


async def test_list_and_remove(engine):
    name = new_id("c")
    await ingest(engine, [FIXTURE_DOCS], base_url="https://lantern.test/", collection=name)
    (row,) = [c for c in await list_collections(engine) if c.name == name]
    assert (row.files, row.embedder) == (5, None) and row.chunks >= 5 and row.last_ingest is not None
    assert await remove_collection(engine, name) is True
    assert await remove_collection(engine, name) is False
    assert (await collection_summary(engine, name)).files == 0


@pytest.mark.parametrize(
    ("url", "public", "expected"),
    [
        ("/about/a.md#x", "http://127.0.0.1:8000", "http://127.0.0.1:8000/about/a.md#x"),
        ("/about/a.md", "https://docs.example.com/help/", "https://docs.example.com/help/about/a.md"),
        ("https://site/a/", "http://127.0.0.1:8000", "https://site/a/"),
        ("/about/a.md", None, "/about/a.md"),
    ],
)
def test_absolute_url(url, public, expected):
    assert absolute_url(url, public) == expected


def test_the_console_note_on_a_collection_of_another_embedder():
    from rag.collections import CollectionSummary, embedder_note

    def summary(embedder: str | None, files: int = 3) -> CollectionSummary:
        return CollectionSummary("docs", files, 9, embedder, None)

    assert embedder_note(summary("model2vec:m"), "model2vec:m") is None
    assert embedder_note(summary(None), None) is None
    assert embedder_note(summary(None, files=0), "model2vec:m") is None  # nothing to re-embed
    assert embedder_note(summary(None), "model2vec:m") == (
        "collection 'docs' has no vectors: search is full-text only until the next"
        " `docsdesk ingest` embeds it with model2vec:m"
    )
    assert "was embedded with openai:x, not model2vec:m: search is full-text only until the next" in (
        embedder_note(summary("openai:x"), "model2vec:m") or ""
    )
    assert "DOCSDESK_EMBEDDINGS=none" in (embedder_note(summary("openai:x"), None) or "")
