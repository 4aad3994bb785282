"""A published page's main content and links, read with selectolax (the Lexbor HTML5 parser).

The page keeps what the reader came for: navigation, the site header and footer, sidebars and
tables of contents, "edit this page" links, cookie and consent banners and skip links are
removed. A page with neither <main> nor <article> whose content is marked `role="main"` (the
mkdocs and readthedocs themes of mkdocs) is cut down to that element. What remains is handed to
`rag.html_page` (the ingest reader of HTML), which keeps the <article> or <main>, splits it
along its headings and gives each section its heading's real id, so citations land on the
section. docs/sources.md says why this and not trafilatura or
readability.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser

MAX_LINKS = 2000  # links kept per page

# Boilerplate of common documentation themes (mkdocs, Material, Docusaurus, Sphinx, VitePress)
# and of the web at large. Matched on the whole page before the reader picks <article>/<main>.
BOILERPLATE = ", ".join(
    [
        "nav",
        "footer",
        "[role=navigation]",
        "[role=banner]",
        "[role=contentinfo]",
        "[role=search]",
        "[aria-label=breadcrumb]",
        "aside[class*=sidebar]",
        "aside[class*=toc]",
        "div[class*=sidebar]",
        ".md-sidebar",
        ".md-source-file",
        ".md-content__button",
        ".theme-edit-this-page",
        ".edit-this-page",
        ".edit-page-link",
        ".edit-link",
        "a[title='Edit this page']",
        "a.skip-link",
        ".md-skip",
        "[class*=cookie]",
        "[id*=cookie]",
        "[class*=Cookie]",
        "[id*=Cookie]",
        "[class*=consent]",
        "[id*=consent]",
        "[class*=gdpr]",
    ]
)
_KEPT = frozenset({"html", "body", "main", "article"})
EDIT_LINK_WORDS = (
    "edit this page",
    "edit on github",
    "edit on gitlab",
    "suggest an edit",
    "improve this page",
)


def read_page(html: bytes | str, page_url: str) -> tuple[bytes, list[str]]:
    """(the page without its boilerplate, as HTML; the absolute URLs it links to, without
    their fragments, in order, once each). Blocking; linear in the page's size."""
    tree = LexborHTMLParser(html)
    base = page_url
    for node in tree.css("base[href]"):
        base = urljoin(page_url, node.attributes.get("href") or "")
        break
    links = _links(tree, base)
    for node in tree.css(BOILERPLATE):
        # A wrapper's class (`<body class="cookie-shown">`, `.with-sidebar`) never takes the page.
        if node.tag not in _KEPT and node.css_first("main, article") is None:
            node.decompose()
    for node in tree.css("a"):
        if " ".join(node.text(deep=True).split()).lower() in EDIT_LINK_WORDS:
            node.decompose()
    return _main_landmark(tree).encode("utf-8"), links


def _main_landmark(tree: LexborHTMLParser) -> str:
    """The page, or only its `role="main"` element (in a <main>, with the page's <title>)
    when it has neither <main> nor <article> to say where its content is."""
    main = tree.css_first("[role=main]")
    if main is None or tree.css_first("main, article") is not None:
        return tree.html or ""
    title = tree.css_first("title")
    head = title.html if title is not None else ""
    return f"<!doctype html><html><head>{head}</head><body><main>{main.html}</main></body></html>"


def _links(tree: LexborHTMLParser, base: str) -> list[str]:
    seen: dict[str, None] = {}
    for node in tree.css("a[href]"):
        href = (node.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
            continue
        absolute = without_fragment(urljoin(base, href))
        if absolute.startswith(("http://", "https://")):
            seen.setdefault(absolute, None)
            if len(seen) >= MAX_LINKS:
                break
    return list(seen)


def without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))
