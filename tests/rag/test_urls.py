"""Page URLs per site generator and heading anchors like the generators make them."""

from __future__ import annotations

import pytest

from rag.urls import DOC_SUFFIXES, AnchorSlugger, heading_anchor, page_key, page_url

BASE = "https://docs.example.com/site/"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a/b.md", BASE + "a/b/"),
        ("a/index.md", BASE + "a/"),
        ("index.md", BASE),
        ("README.md", BASE),
        ("a/README.md", BASE + "a/"),
        ("guides/add-annotations.md", BASE + "guides/add-annotations/"),
        ("a/b.markdown", BASE + "a/b/"),
        ("a/page.html", BASE + "a/page.html"),
        ("a/index.html", BASE + "a/"),
        ("a/with space.md", BASE + "a/with%20space/"),
    ],
)
def test_mkdocs_directory_urls(path: str, expected: str) -> None:
    assert page_url(path, BASE, "mkdocs", {}) == expected


def test_base_is_normalised_to_a_trailing_slash() -> None:
    assert page_url("a/b.md", "https://docs.example.com/site", "mkdocs", {}) == BASE + "a/b/"
    assert (
        page_url("index.md", "https://docs.example.com", "plain", {}) == "https://docs.example.com/index.md"
    )


def test_chatkit_corpus_page_maps_to_its_published_url() -> None:
    url = page_url("guides/add-annotations.md", "https://openai.github.io/chatkit-python/", "mkdocs", {})
    assert url == "https://openai.github.io/chatkit-python/guides/add-annotations/"


@pytest.mark.parametrize(
    ("path", "front_matter", "expected"),
    [
        ("a/b.mdx", {}, BASE + "a/b"),
        ("a/b.md", {}, BASE + "a/b"),
        ("a/index.md", {}, BASE + "a/"),
        ("a/README.mdx", {}, BASE + "a/"),
        ("guides/guides.md", {}, BASE + "guides/"),
        ("index.mdx", {}, BASE),
        ("01-intro/02-setup.md", {}, BASE + "intro/setup"),
        ("a/b.md", {"slug": "/x"}, BASE + "x"),
        ("a/b.md", {"slug": "/x/y/"}, BASE + "x/y/"),
        ("a/b.md", {"slug": "/"}, BASE),
        ("a/b.md", {"slug": "c"}, BASE + "a/c"),
        ("a/deep/b.md", {"slug": "../c"}, BASE + "a/c"),
        ("a/b.md", {"id": "custom"}, BASE + "a/custom"),
    ],
)
def test_docusaurus_urls(path: str, front_matter: dict, expected: str) -> None:
    assert page_url(path, BASE, "docusaurus", front_matter) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [("a/b.md", BASE + "a/b.md"), ("a/index.md", BASE + "a/index.md"), ("x/page.html", BASE + "x/page.html")],
)
def test_plain_keeps_the_path(path: str, expected: str) -> None:
    assert page_url(path, BASE, "plain", {"slug": "/ignored"}) == expected


def test_unknown_style_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="url_style"):
        page_url("a.md", BASE, "hugo", {})
    with pytest.raises(ValueError, match="url_style"):
        heading_anchor("Title", "hugo")


def test_doc_suffixes() -> None:
    assert DOC_SUFFIXES == (".md", ".markdown", ".mdx", ".html", ".htm")


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Hello World!", "hello-world"),
        ("Advanced: ToolContext", "advanced-toolcontext"),
        ("Customizing handoffs via the handoff() function", "customizing-handoffs-via-the-handoff-function"),
        ("tool_name and  more", "tool_name-and-more"),
        ("A -- B", "a-b"),
        ("Žluťoučký kůň", "zlutoucky-kun"),
        ("C++ & Rust", "c-rust"),
        ("  Spaces around  ", "spaces-around"),
        ("🎉", ""),
    ],
)
def test_mkdocs_anchor_is_python_markdown_slugify(heading: str, expected: str) -> None:
    assert heading_anchor(heading, "mkdocs") == expected


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Hello World!", "hello-world"),
        ("Advanced: ToolContext", "advanced-toolcontext"),
        ("A -- B", "a----b"),
        ("C++ & Rust", "c--rust"),
        ("foo_bar", "foo_bar"),
        ("Über café", "über-café"),
        ("🎉 Party", "-party"),
        ("v1.2 (beta)", "v12-beta"),
    ],
)
def test_docusaurus_anchor_is_github_slugger(heading: str, expected: str) -> None:
    assert heading_anchor(heading, "docusaurus") == expected


def test_duplicate_headings_get_generator_suffixes() -> None:
    mkdocs = AnchorSlugger("mkdocs")
    assert [mkdocs.anchor("Setup") for _ in range(3)] == ["setup", "setup_1", "setup_2"]
    docusaurus = AnchorSlugger("docusaurus")
    assert [docusaurus.anchor("Setup") for _ in range(3)] == ["setup", "setup-1", "setup-2"]
    # github-slugger skips a suffix that an earlier heading already produced
    github = AnchorSlugger("docusaurus")
    assert [github.anchor(h) for h in ("foo", "foo 1", "foo")] == ["foo", "foo-1", "foo-2"]


def test_explicit_ids_win_and_mkdocs_reserves_them() -> None:
    mkdocs = AnchorSlugger("mkdocs", reserved={"setup"})
    assert mkdocs.anchor("Setup") == "setup_1"
    assert mkdocs.anchor("Other", "setup") == "setup"
    docusaurus = AnchorSlugger("docusaurus", reserved={"setup"})
    assert docusaurus.anchor("Setup") == "setup"
    assert docusaurus.anchor("Whatever", "custom-id") == "custom-id"


def test_empty_mkdocs_heading_gets_numbered_id() -> None:
    assert AnchorSlugger("mkdocs").anchor("!!!") == "_1"


@pytest.mark.parametrize(
    ("url", "other", "same"),
    [
        ("https://d.test/guide/", "https://d.test/guide", True),
        ("https://d.test/guide/?tab=1#install", "https://d.test/guide", True),
        ("guide/#a", "guide#b", True),
        ("https://d.test/guide/", "https://d.test/guides/", False),
        ("https://d.test/a/b/", "https://d.test/a/", False),
    ],
)
def test_one_page_identity_for_search_and_evaluation(url, other, same):
    """Search's reader-page boost and diversity, and the evaluation's page matching, compare
    pages with the one `page_key`."""
    from rag.evaluate import matches
    from rag.ranking import same_page

    assert (page_key(url) == page_key(other)) is same
    assert same_page(url, other) is same
    assert matches(url, other.split("#", 1)[0]) is same
