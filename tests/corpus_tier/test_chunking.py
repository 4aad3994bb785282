"""Chunking over the real documentation corpus: every page chunks cleanly, sizes, URLs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.chunking import Chunk, chunk_document, token_count
from rag.sources import folder_page_url, media_type_of
from tests.support import CORPUS

CORPUS_SETS = {
    "chatkit-python": "https://openai.github.io/chatkit-python/",
    "openai-agents-python": "https://openai.github.io/openai-agents-python/",
}


def corpus_pages() -> list[tuple[str, str, Path]]:
    pages = []
    for folder, base in CORPUS_SETS.items():
        root = CORPUS / folder
        pages += [(base, p.relative_to(root).as_posix(), p) for p in sorted(root.rglob("*.md"))]
    return pages


@pytest.fixture(scope="module")
def corpus_chunks() -> dict[str, list[Chunk]]:
    return {
        f"{base}{path}": chunk_document(
            text := file.read_text(encoding="utf-8"),
            media_type_of(path),
            folder_page_url(path, text, base, "mkdocs"),
            collection="corpus",
        )
        for base, path, file in corpus_pages()
    }


_FENCED = re.compile(r"^(`{3,}|~{3,})[^\n]*\n.*?^\1[ \t]*$", re.S | re.M)
_LEFTOVER = re.compile(r"\]\(|\]\[|^!!!|^\?\?\?|^===|^:::|<!--|<div|\{ ?[.#:][\w-]|\(\d+\)!", re.M)


def test_every_corpus_page_chunks_cleanly(corpus_chunks: dict[str, list[Chunk]]) -> None:
    assert len(corpus_chunks) >= 50
    for page, chunks in corpus_chunks.items():
        assert chunks, page
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        for chunk in chunks:
            assert chunk.text.strip() and chunk.url.startswith(chunk.page_url), page
            assert chunk.page_title and chunk.collection == "corpus"
            assert chunk.text.count("```") % 2 == 0, (page, chunk.ordinal)  # fences never cut
            prose = _FENCED.sub("", chunk.text)
            prose = re.sub(r"(`+).+?\1", "", prose)  # inline code may show any syntax
            assert not _LEFTOVER.search(prose), (page, chunk.ordinal, _LEFTOVER.search(prose))


def test_corpus_chunk_sizes_within_bounds(corpus_chunks: dict[str, list[Chunk]]) -> None:
    sizes = []
    for page, chunks in corpus_chunks.items():
        for chunk in chunks:
            sizes.append(chunk.token_count)
            if chunk.token_count > 600:  # only a single code block too big to share may exceed max
                blocks = _FENCED.findall(chunk.text)
                assert len(blocks) == 1, (page, chunk.ordinal)
                assert token_count(_FENCED.sub("", chunk.text)) < 400, (page, chunk.ordinal)
    assert 200 <= sum(sizes) / len(sizes) <= 450


def test_corpus_urls_and_anchors(corpus_chunks: dict[str, list[Chunk]]) -> None:
    base = CORPUS_SETS["chatkit-python"]
    chunks = corpus_chunks[base + "guides/add-annotations.md"]
    assert chunks[0].page_url == "https://openai.github.io/chatkit-python/guides/add-annotations/"
    assert chunks[0].heading_path[0] == "Add annotations in assistant messages"
    assert chunks[0].url.endswith("/guides/add-annotations/#add-annotations-in-assistant-messages")
    agents = CORPUS_SETS["openai-agents-python"]
    assert corpus_chunks[agents + "index.md"][0].page_url == agents
    context = corpus_chunks[agents + "context.md"]
    assert any(c.url.endswith("/context/#advanced-toolcontext") for c in context)
    danger = next(c for c in context if "Danger: Note" in c.text)
    assert "Danger: Note\nThe context object is **not** sent to the LLM." in danger.text
