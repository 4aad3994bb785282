"""A published page's main content: theme and web boilerplate pruned, headings and their ids
kept for the reader, links resolved for the crawl."""

from __future__ import annotations

from rag.html_page import parse_html
from rag.site_page import read_page
from tests.support.docs_site import page_html

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
