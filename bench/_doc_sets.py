"""The documentation sets the quality benchmarks ingest: the two of the shared corpus
(../shared/corpus, or DOCSDESK_BENCH_CORPUS), the third-party ones vendored under
bench/corpora/NAME (NAME/docs, and NAME/SOURCE.md with its base URL on a `base-url:` line), and
docsdesk's own docs (the demo `docsdesk serve` answers from, with its URLs: /about/NAME.md)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DOCSDESK_BENCH_CORPUS", REPO.parent / "shared" / "corpus"))
DOC_SETS = {  # collection -> (folder of the shared corpus, published base URL)
    "chatkit": ("chatkit-python", "https://openai.github.io/chatkit-python/"),
    "agents": ("openai-agents-python", "https://openai.github.io/openai-agents-python/"),
}
QUESTIONS = REPO / "bench" / "questions"  # SET-COLLECTION.tsv
THIRD_PARTY = REPO / "bench" / "corpora"
OWN_DOCS = {"docsdesk": (REPO / "docsdesk" / "own_docs", "/about/")}  # as rag.collections.ingest_own_docs


def url_style(collection: str) -> str:
    """How the doc set's file paths map to its URLs: the own docs' as served, the others' MkDocs."""
    return "plain" if collection in OWN_DOCS else "mkdocs"


def third_party_sets() -> dict[str, tuple[Path, str]]:
    """The vendored third-party doc sets: collection -> (docs folder, base URL from SOURCE.md)."""
    found = {}
    for source in sorted(THIRD_PARTY.glob("*/SOURCE.md")):
        for line in source.read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("base-url:"):
                found[source.parent.name] = (source.parent / "docs", line.split(":", 1)[1].strip())
    return found


def all_doc_sets(corpus: Path = CORPUS) -> dict[str, tuple[Path, str]]:
    """Every doc set: collection -> (docs folder, base URL)."""
    return {**{c: (corpus / f, b) for c, (f, b) in DOC_SETS.items()}, **third_party_sets(), **OWN_DOCS}


async def ingest_doc_sets(engine: Any, prefix: str, embedder: Any, corpus: Path = CORPUS) -> int:
    """Ingest every doc set into the collection `prefix` + its name (`url_style`); the chunks
    written."""
    from rag.ingest import ingest

    chunks = 0
    for collection, (folder, base_url) in all_doc_sets(corpus).items():
        summary = await ingest(
            engine,
            [folder],
            base_url=base_url,
            collection=prefix + collection,
            url_style=url_style(collection),
            embedder=embedder,
        )
        chunks += summary.chunks
    return chunks


@asynccontextmanager
async def searched_doc_sets(prefix: str) -> AsyncIterator[Any]:
    """A `DocsSearch` (hybrid, the default embedder) over every doc set, ingested into the
    collections `prefix` + its name in a throwaway database."""
    from docsdesk.core.database import open_database
    from docsdesk.core.settings import Settings
    from rag.embeddings import DEFAULT_EMBEDDINGS, build_embedder
    from rag.search import DocsSearch

    with tempfile.TemporaryDirectory(prefix=f"docsdesk-{prefix}") as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp))
        db = await open_database(settings)
        try:
            embedder = build_embedder(DEFAULT_EMBEDDINGS, settings)
            await ingest_doc_sets(db.engine, prefix, embedder)
            yield DocsSearch(db.engine, embedder)
        finally:
            await db.close()
