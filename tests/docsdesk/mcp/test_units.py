"""The pure parts of docsdesk.mcp: key expiry parsing, page summaries, page URL forms, llms.txt
escaping."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from docsdesk.mcp.keys import digest, parse_expires
from docsdesk.mcp.llms import render_index
from docsdesk.mcp.pages import PageEntry, page_candidates, summary_of

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30d", NOW + timedelta(days=30)),
        ("12h", NOW + timedelta(hours=12)),
        ("90m", NOW + timedelta(minutes=90)),
        ("2w", NOW + timedelta(weeks=2)),
        ("2026-12-31", datetime(2026, 12, 31, tzinfo=UTC)),
        ("2026-02-01T08:30:00+02:00", datetime(2026, 2, 1, 6, 30, tzinfo=UTC)),
        ("2026-02-01T08:30:00", datetime(2026, 2, 1, 8, 30, tzinfo=UTC)),
    ],
)
def test_parse_expires(value, expected):
    assert parse_expires(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [("0d", "more than zero"), ("soon", "expected a duration"), ("2020-01-01", "in the past")],
)
def test_parse_expires_refuses(value, message):
    with pytest.raises(ValueError, match=message):
        parse_expires(value, NOW)


def test_keys_are_stored_as_their_sha256():
    assert digest("ddk_abc") == hashlib.sha256(b"ddk_abc").hexdigest()
    assert digest("ddk_abc") != digest("ddk_abd")


def test_summary_skips_headings_code_and_tables():
    text = (
        "# Title\n\n```python\nx = 1\n\ny = 2\n```\n\n| a | b |\n\nThe **first** real sentence. And more.\n"
    )
    assert summary_of(text, "Title") == "The first real sentence."
    assert summary_of("# Only a heading", "Only a heading") == ""
    long = "word " * 100
    assert len(summary_of(long, "t")) <= 200 and summary_of(long, "t").endswith("…")


def test_page_candidates_accept_section_urls_and_own_docs():
    assert page_candidates("https://d.test/a/#x", None) == ["https://d.test/a", "https://d.test/a/"]
    forms = page_candidates("http://127.0.0.1:8000/about/quickstart.md#run", "http://127.0.0.1:8000")
    assert "/about/quickstart.md" in forms


def test_llms_txt_escapes_link_text():
    page = PageEntry("https://d.test/a b/", "Use [brackets]", "c", "guide/a.md", "One line.", "")
    body = render_index([page], "default", ["c"])
    assert "- [Use \\[brackets\\]](https://d.test/a%20b/): One line." in body.splitlines()
    assert body.splitlines()[0] == "# Documentation"


def test_a_search_is_covered_when_the_docs_use_most_of_its_words():
    from docsdesk.core.turn import NotCoveredReason
    from docsdesk.mcp.tools import not_covered_reason
    from rag.search import SearchResult

    hit = SearchResult("T", [], "https://d.test/a/", "s", 0.5, "t", "a.md", "docs", 1)
    assert not_covered_reason("retry policy backoff", [hit], []) is None
    assert not_covered_reason("retry policy kubernetes", [hit], ["kubernetes"]) is None
    absent = not_covered_reason("kubernetes helm chart", [hit], ["kubernetes", "helm"])
    assert absent == NotCoveredReason.ABSENT_TERMS
    assert not_covered_reason("retry policy", [], []) == NotCoveredReason.NO_RESULTS
