"""Ingest hygiene (issue #18): theme and template folders skipped by default and listed in the
summary, --exclude globs, a base URL without a scheme and an empty folder refused."""

from __future__ import annotations

import pytest

from rag.exclude import ExcludeRules
from rag.ingest import IngestError, ingest
from rag.sources import FolderSource
from rag.urls import check_base_url
from tests.support import new_id


def tree(root, files):
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {path.stem}\n\nText of {name}.\n", encoding="utf-8")
    return root


FILES = [
    "index.md",
    "guide/setup.md",
    "overrides/main.html",  # mkdocs theme override
    "overrides/partials/footer.html",
    "src/theme/Footer/index.md",  # docusaurus swizzled theme
    "node_modules/pkg/README.md",
    "build/index.html",
    ".docusaurus/registry.md",
    "drafts/idea.md",
    "blog/2019/old.md",
    "blog/2024/new.md",
    "guide/notes.draft.md",
]


def sources(roots):
    return sorted(key for source in roots for key in source.keys)


def test_theme_and_template_folders_are_skipped_and_recorded(tmp_path):
    rules = ExcludeRules()
    found = sources(
        FolderSource.discover([tree(tmp_path, FILES)], base_url="/", url_style="mkdocs", rules=rules)
    )
    assert found == [
        "blog/2019/old.md",
        "blog/2024/new.md",
        "drafts/idea.md",
        "guide/notes.draft.md",
        "guide/setup.md",
        "index.md",
    ]
    assert rules.skipped == [
        ".docusaurus/ (Docusaurus build cache)",
        "build/ (built site)",
        "node_modules/ (JavaScript packages)",
        "overrides/ (mkdocs theme overrides)",
        "src/theme/ (Docusaurus theme)",
    ]


def test_exclude_globs_match_names_anywhere_or_paths_from_the_root(tmp_path):
    rules = ExcludeRules(("drafts", "blog/2019/*", "*.draft.md"))
    found = sources(
        FolderSource.discover([tree(tmp_path, FILES)], base_url="/", url_style="mkdocs", rules=rules)
    )
    assert found == ["blog/2024/new.md", "guide/setup.md", "index.md"]
    assert "drafts/ (--exclude drafts)" in rules.skipped
    assert "blog/2019/ (--exclude blog/2019/*)" in rules.skipped
    assert "guide/notes.draft.md (--exclude *.draft.md)" in rules.skipped
    with pytest.raises(ValueError, match="needs a glob"):
        ExcludeRules(("  ",))


@pytest.mark.parametrize(
    "base", ["docs.example.com", "docs.example.com/guide/", "localhost:8000/docs", "//x.example/"]
)
def test_a_base_url_without_a_scheme_is_refused(base):
    with pytest.raises(ValueError, match="has no scheme"):
        check_base_url(base)


def test_base_urls_accepted():
    assert check_base_url("https://docs.example.com/") == "https://docs.example.com/"
    assert check_base_url("http://127.0.0.1:8000/docs") == "http://127.0.0.1:8000/docs"
    assert check_base_url("/about/", site_relative=True) == "/about/"
    with pytest.raises(ValueError, match="http:// or https://"):
        check_base_url("ftp://docs.example.com/")


async def test_ingest_refuses_an_empty_folder_and_a_scheme_less_base_and_lists_skips(database, tmp_path):
    collection = new_id("c")
    empty = tmp_path / "empty"
    (empty / "overrides").mkdir(parents=True)
    (empty / "overrides" / "main.html").write_text("<p>theme</p>", encoding="utf-8")
    with pytest.raises(IngestError, match=r"no documents found under .*empty.*skipped overrides/"):
        await ingest(database.engine, [empty], base_url="https://x.example/", collection=collection)
    docs = tree(tmp_path / "docs", FILES)
    with pytest.raises(IngestError, match="has no scheme"):
        await ingest(database.engine, [docs], base_url="x.example/docs", collection=collection)
    summary = await ingest(
        database.engine, [docs], base_url="https://x.example/", collection=collection, exclude=["blog"]
    )
    assert summary.added == 4
    line = summary.describe()
    assert (
        "skipped " in line
        and "overrides/ (mkdocs theme overrides)" in line
        and "blog/ (--exclude blog)" in line
    )
