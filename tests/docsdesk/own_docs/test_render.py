"""docsdesk's own docs as HTML (issue #18): every anchor ingestion gives a chunk is a heading
id of the rendered page, and HTML in the Markdown is shown as text, never run."""

from __future__ import annotations

import re

import pytest

from docsdesk.own_docs import own_docs
from docsdesk.own_docs.render import CONTENT_SECURITY_POLICY, render_page, wants_markdown
from rag.chunking import chunk_document
from rag.collections import OWN_DOCS_PATH


@pytest.mark.parametrize("name", sorted(own_docs()))
def test_every_indexed_anchor_is_a_heading_of_the_page(name):
    markdown = own_docs()[name].read_text(encoding="utf-8")
    chunks = chunk_document(
        markdown, "text/markdown", OWN_DOCS_PATH + name, anchor_style="plain", collection="docsdesk"
    )
    anchors = {c.url.split("#", 1)[1] for c in chunks if "#" in c.url}
    assert anchors, name
    ids = set(re.findall(r'<h[1-6] id="([^"]+)"', render_page(markdown, name)))
    assert anchors <= ids, anchors - ids


def test_repeated_headings_get_the_numbered_anchors_ingestion_gives():
    markdown = "# Page\n\n## Setup\n\ntext\n\n## Setup\n\nmore\n\n## `code` *and* words\n\nx\n"
    chunks = chunk_document(markdown, "text/markdown", "/about/p.md", anchor_style="plain")
    html = render_page(markdown, "p.md")
    for chunk in chunks:
        if "#" in chunk.url:
            assert f'id="{chunk.url.split("#", 1)[1]}"' in html
    assert 'id="setup"' in html and 'id="setup-1"' in html and 'id="code-and-words"' in html


def test_html_in_markdown_is_escaped_and_no_script_may_run():
    markdown = (
        '# T\n\n<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n[x](javascript:alert(3))\n'
    )
    html = render_page(markdown, "t.md")
    assert "<script>alert" not in html and "<img src=x" not in html and 'href="javascript:' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
    [style] = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert "'sha256-" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    ("format_param", "accept", "markdown"),
    [
        (None, "text/html,application/xhtml+xml,*/*;q=0.8", False),
        (None, "*/*", False),
        (None, "text/markdown", True),
        (None, "text/markdown, text/html;q=0.5", True),
        ("md", "text/html", True),
        ("html", "text/markdown", False),
    ],
)
def test_markdown_on_request(format_param, accept, markdown):
    assert wants_markdown(format_param, accept) is markdown
