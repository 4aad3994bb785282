"""The insights report's page lists: the most cited pages (with their titles) and the pages
no answer cited."""

from __future__ import annotations

from typing import Any

NEVER_SHOWN = 200


def _matches(page_url: str, cited: str) -> bool:
    # Own-docs pages are stored site-relative (/about/x.md) and cited absolute.
    return cited == page_url or (page_url.startswith("/") and cited.endswith(page_url))


def page_sections(cited_rows: list[Any], pages: list[Any], shown: int) -> dict[str, Any]:
    """The `shown` most cited pages (with their titles) and the pages never cited."""
    cited_pages = [(page, n) for page, n in cited_rows]

    def title_of(url: str) -> str | None:
        return next((title for page_url, title in pages if _matches(page_url, url)), None)

    never = [
        {"url": page_url, "title": title}
        for page_url, title in pages
        if not any(_matches(page_url, cited) for cited, _ in cited_pages)
    ]
    return {
        "top_cited_pages": [
            {"url": url, "title": title_of(url), "citations": n} for url, n in cited_pages[:shown]
        ],
        "never_cited_pages": never[:NEVER_SHOWN],
        "never_cited_total": len(never),
    }
