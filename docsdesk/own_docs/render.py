"""docsdesk's own docs as HTML pages, so a citation of `/about/NAME#anchor` opens at its section.

Markdown is rendered with markdown-it-py (CommonMark and tables). Raw HTML in the Markdown is
escaped, never passed through, and markdown-it refuses `javascript:` and similar link targets;
the page carries a Content-Security-Policy that allows no script at all and only its own
stylesheet (by hash). Each heading gets the anchor ingestion gives it (`rag.urls.AnchorSlugger`,
"plain" style, over the same plain heading text `rag.inline.plain_heading`), so the anchors
of indexed chunks land on their headings.
"""

from __future__ import annotations

import base64
import hashlib
import html

from markdown_it import MarkdownIt
from markdown_it.token import Token

from rag.inline import plain_heading
from rag.urls import AnchorSlugger

STYLE = (
    "body{font:16px/1.55 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1f2328}"
    "pre{background:#f6f8fa;padding:.8rem;overflow:auto}code{font-size:90%}"
    "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.3rem .6rem}"
    "h1,h2,h3,h4{line-height:1.25}a.anchor{margin-left:.3rem;color:#8c959f;text-decoration:none}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self' https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def _add_anchors(tokens: list[Token]) -> None:
    """Give each heading the id ingestion gives its section, and a link to itself."""
    slugger = AnchorSlugger("plain")
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or index + 1 >= len(tokens):
            continue
        inline = tokens[index + 1]
        anchor = slugger.anchor(plain_heading(inline.content))
        token.attrSet("id", anchor)
        link_open = Token("link_open", "a", 1, attrs={"href": f"#{anchor}", "class": "anchor"})
        text = Token("text", "", 0, content="#")
        link_close = Token("link_close", "a", -1)
        inline.children = [*(inline.children or []), link_open, text, link_close]


def page_title(markdown: str, fallback: str) -> str:
    """The first heading's plain text, or `fallback`."""
    for line in markdown.splitlines():
        if line.startswith("# "):
            return plain_heading(line[2:]) or fallback
    return fallback


def render_page(markdown: str, name: str) -> str:
    """A whole HTML document for the Markdown page `name`."""
    tokens = _MARKDOWN.parse(markdown)
    _add_anchors(tokens)
    body = _MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {})
    title = html.escape(page_title(markdown, name))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title} - docsdesk</title><style>{STYLE}</style></head>\n"
        f"<body><main>\n{body}</main></body></html>\n"
    )


def wants_markdown(format_param: str | None, accept: str) -> bool:
    """Whether the client asked for the Markdown source (`?format=md`, or an Accept header that
    names text/markdown before any HTML)."""
    if format_param is not None:
        return format_param.lower() in ("md", "markdown")
    kinds = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    markdown = kinds.index("text/markdown") if "text/markdown" in kinds else None
    html_at = kinds.index("text/html") if "text/html" in kinds else None
    return markdown is not None and (html_at is None or markdown < html_at)
