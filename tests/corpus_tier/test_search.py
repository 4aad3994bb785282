"""The acceptance query of the docs search over the real ChatKit Python docs."""

from __future__ import annotations

from rag.ingest import ingest
from rag.search import DocsSearch
from tests.corpus_tier.conftest import CHATKIT
from tests.support import new_id


async def test_acceptance_chatkit_python_annotations(engine):
    collection = new_id("c")
    summary = await ingest(
        engine, [CHATKIT], base_url="https://openai.github.io/chatkit-python/", collection=collection
    )
    assert summary.added >= 20

    results = await DocsSearch(engine).search("how do I add annotations", collection=collection)

    assert results[0].url.startswith("https://openai.github.io/chatkit-python/guides/add-annotations/")
