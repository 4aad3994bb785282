"""The search-quality question set (bench/questions.json) is well-formed and every
expected page exists in the shared corpus under the mkdocs URL mapping."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.support import CORPUS, REPO

QUESTIONS = REPO / "bench" / "questions.json"
DOC_SETS = {  # collection -> (corpus folder, published base URL)
    "chatkit": ("chatkit-python", "https://openai.github.io/chatkit-python/"),
    "agents": ("openai-agents-python", "https://openai.github.io/openai-agents-python/"),
}


def mkdocs_page_url(relative: Path, base_url: str) -> str:
    """mkdocs "directory URLs": a/b.md -> BASE/a/b/, a/index.md -> BASE/a/, index.md -> BASE/."""
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "index":
        parts.pop()
    return base_url + "".join(f"{part}/" for part in parts)


def corpus_pages(folder: str, base_url: str) -> set[str]:
    root = CORPUS / folder
    return {mkdocs_page_url(path.relative_to(root), base_url) for path in root.rglob("*.md")}


@pytest.fixture(scope="module")
def questions() -> list[dict]:
    return json.loads(QUESTIONS.read_text(encoding="utf-8"))


def test_mkdocs_mapping() -> None:
    base = "https://example.org/docs/"
    assert mkdocs_page_url(Path("index.md"), base) == base
    assert mkdocs_page_url(Path("guides/add-annotations.md"), base) == base + "guides/add-annotations/"
    assert mkdocs_page_url(Path("models/index.md"), base) == base + "models/"


def test_question_set_is_well_formed(questions: list[dict]) -> None:
    assert isinstance(questions, list)
    assert len(questions) >= 40
    for entry in questions:
        assert set(entry) == {"q", "expected", "collection"}, entry
        assert isinstance(entry["q"], str) and entry["q"].strip() == entry["q"] and entry["q"], entry
        assert entry["collection"] in DOC_SETS, entry
        expected = entry["expected"]
        assert isinstance(expected, list) and expected, entry
        assert len(set(expected)) == len(expected), entry
        base_url = DOC_SETS[entry["collection"]][1]
        for url in expected:
            assert isinstance(url, str) and url.startswith(base_url), (entry["q"], url)
            assert "#" not in url and url.endswith("/"), (entry["q"], url)
    duplicates = [q for q, n in Counter(e["q"].lower() for e in questions).items() if n > 1]
    assert not duplicates
    per_collection = Counter(e["collection"] for e in questions)
    assert min(per_collection[name] for name in DOC_SETS) >= len(questions) // 3, per_collection


def test_expected_pages_exist_in_corpus(questions: list[dict]) -> None:
    if not all((CORPUS / folder).is_dir() for folder, _ in DOC_SETS.values()):
        pytest.skip(f"corpus not found under {CORPUS}")
    pages = {name: corpus_pages(folder, base) for name, (folder, base) in DOC_SETS.items()}
    missing = [
        (entry["q"], url)
        for entry in questions
        for url in entry["expected"]
        if url not in pages[entry["collection"]]
    ]
    assert not missing, missing
