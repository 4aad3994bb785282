"""A published page's main content: theme and web boilerplate pruned, headings and their ids
kept for the reader, links resolved for the crawl."""

from __future__ import annotations

from rag.html_page import parse_html
from rag.site_page import read_page
from tests.support.docs_site import page_html
from tests.support.mkdocs_site import build, pages

DOCUSAURUS = """<html><body><div class="theme-layout"><nav class="navbar">Docs Blog</nav>
<div class="main-wrapper"><aside class="theme-doc-sidebar-container">Sidebar links</aside>
<main><div class="theme-doc-markdown markdown"><header><h1>Guide</h1></header>
<p>Body text.</p><h2 id="step-one">Step one<a href="#step-one" class="hash-link">#</a></h2><p>Do it.</p></div>
<div class="theme-doc-footer"><a href="https://github.com/x/edit/main/guide.md" class="theme-edit-this-page">Edit this page</a></div>
</main></div><div class="cookieConsent">Accept cookies</div><footer class="footer">Copyright</footer></div></body></html>"""


def texts(html: bytes) -> str:
    page = parse_html(html.decode())
    return " ".join(" ".join([s.title, *(u.text for u in s.units)]) for s in page.sections)


def test_material_page_keeps_the_article_and_its_anchors():
    html = page_html("Intro", '<p>Hello.</p><h2 id="usage">Usage</h2><p>Run it.</p>', ["/a/", "../b/"])
    body, links = read_page(html, "https://docs.example.test/docs/intro/")
    text = texts(body)
    assert "Hello." in text and "Run it." in text
    for gone in (
        "cookies",
        "Edit",
        "Copyright",
        "Table of contents",
        "Search the site",
        "Last update",
        "/a/",
    ):
        assert gone not in text
    sections = parse_html(body.decode()).sections
    assert [(s.title, s.explicit_id) for s in sections if s.title] == [("Intro", "intro"), ("Usage", "usage")]
    assert links[:3] == [
        "https://docs.example.test/",
        "https://docs.example.test/a/",
        "https://docs.example.test/docs/b/",
    ]  # taken before the navigation is pruned


def test_docusaurus_page_and_a_wrapper_class_never_takes_the_page():
    body, _ = read_page(
        DOCUSAURUS.replace("<body>", '<body class="cookie-consent-given">'), "https://x.test/"
    )
    text = texts(body)
    assert "Body text." in text and "Do it." in text and "Step one" in text
    for gone in ("Sidebar links", "Edit this page", "Accept cookies", "Copyright", "Docs Blog"):
        assert gone not in text


def test_links_skip_fragments_mail_and_scripts_and_honour_base():
    html = (
        '<html><head><base href="/root/"></head><body><a href="#top">t</a><a href="mailto:a@b">m</a>'
        '<a href="javascript:x()">j</a><a href="page/#s">p</a><a href="page/">again</a></body></html>'
    )
    _, links = read_page(html, "https://x.test/docs/")
    assert links == ["https://x.test/root/page/"]


def test_mkdocs_builds_of_both_shipped_themes_keep_only_the_page(tmp_path):
    """Real `mkdocs build` output: the mkdocs theme (a Bootstrap navbar, search and keyboard
    dialogs, no <main>) and readthedocs (side navigation, breadcrumbs with "Edit on Github",
    a versions bar): only the role="main" content stays, its headings with their ids."""
    for theme in ("mkdocs", "readthedocs"):
        built = pages(build(tmp_path / theme, theme=theme))
        url = "https://docs.example.test/docs/guide/install/"
        body, links = read_page(built["/docs/guide/install/"], url)
        page = parse_html(body.decode())
        sections = [(s.level, s.title, s.explicit_id) for s in page.sections if s.level]
        assert sections == [
            (1, "Install", "install"),
            (2, "Requirements", "requirements"),
            (2, "From a package", "from-a-package"),
        ], theme
        text = texts(body)
        assert "You need Python 3.11" in text and "widget serve" in text
        for gone in (
            "Edit on Github",
            "Previous",
            "Next",
            "Search",
            "Keyboard",
            "Built with",
            "built with",
            "Home",
        ):
            assert gone not in text, (theme, gone)
        assert page.html_title == "Install - Widget Docs"
        assert "https://docs.example.test/docs/guide/configure/" in links  # the crawl still follows the nav
        assert "https://docs.example.test/docs/changelog/" in links
