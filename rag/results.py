"""What a search returns (`rag.search`): its results, and the top page's further sections."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SearchResult:
    title: str
    heading_path: list[str]
    url: str
    snippet: str
    score: float
    text: str
    source_path: str
    collection: str
    chunk_id: int


@dataclass
class Found:
    """A search's results, best first, and (when its query asks, `SearchQuery.page_sections`)
    the further sections of the first result's page, best first, none of them among the results
    (`rag.top_page`; their score: the full-text share a fused score gives them)."""

    results: list[SearchResult]
    top_page: list[SearchResult]

    @classmethod
    def of(cls, rows: list[SearchResult], further: dict[int, float]) -> Found:
        """`rows` read together, split: the `further` chunk ids are the top page's."""
        return cls([r for r in rows if r.chunk_id not in further], [r for r in rows if r.chunk_id in further])
