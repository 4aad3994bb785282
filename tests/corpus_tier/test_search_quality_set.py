"""The search-quality question sets (bench/questions/SET-COLLECTION.tsv: the project set, the dev
set and the two held-out sets) parse with `docsdesk eval`'s reader, and every expected page exists in the shared
corpus under the mkdocs URL mapping."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rag.evaluate import Case, load_questions
from tests.support import CORPUS, REPO

QUESTIONS = REPO / "bench" / "questions"
DOC_SETS = {  # collection -> (corpus folder, published base URL)
    "chatkit": ("chatkit-python", "https://openai.github.io/chatkit-python/"),
    "agents": ("openai-agents-python", "https://openai.github.io/openai-agents-python/"),
}
SETS = ("project", "dev", "heldout", "heldout2")


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
def question_sets() -> dict[tuple[str, str], list[Case]]:
    return {(s, c): load_questions(QUESTIONS / f"{s}-{c}.tsv") for s in SETS for c in DOC_SETS}


def test_mkdocs_mapping() -> None:
    base = "https://example.org/docs/"
    assert mkdocs_page_url(Path("index.md"), base) == base
    assert mkdocs_page_url(Path("guides/add-annotations.md"), base) == base + "guides/add-annotations/"
    assert mkdocs_page_url(Path("models/index.md"), base) == base + "models/"


def test_question_sets_are_well_formed(question_sets) -> None:
    assert {f"{s}-{c}.tsv" for s in SETS for c in DOC_SETS} <= {p.name for p in QUESTIONS.glob("*.tsv")}
    project = [case for (s, _), cases in question_sets.items() if s == "project" for case in cases]
    assert len(project) >= 90
    for (set_name, collection), cases in question_sets.items():
        assert len(cases) >= 20, (set_name, collection)
        base_url = DOC_SETS[collection][1]
        for case in cases:
            for url in case.expected:
                assert url.startswith(base_url), (case.question, url)
                assert "#" not in url and url.endswith("/"), (case.question, url)
        duplicates = [q for q, n in Counter(c.question.lower() for c in cases).items() if n > 1]
        assert not duplicates, (set_name, collection, duplicates)


def test_expected_pages_exist_in_corpus(question_sets) -> None:
    if not all((CORPUS / folder).is_dir() for folder, _ in DOC_SETS.values()):
        pytest.skip(f"corpus not found under {CORPUS}")
    pages = {name: corpus_pages(folder, base) for name, (folder, base) in DOC_SETS.items()}
    missing = [
        (set_name, case.question, url)
        for (set_name, collection), cases in question_sets.items()
        for case in cases
        for url in case.expected
        if url not in pages[collection]
    ]
    assert not missing, missing
