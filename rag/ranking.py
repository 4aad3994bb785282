"""Ranking documentation chunks: what of a query selects candidates, how they are scored, and
how the full-text and nearest-by-meaning lists are fused (used by `rag.search`).

Full-text: the query loses its question words ("how do I") and contractions, gains the
parts and wholes of its identifiers (`docsdesk.core.terms`) and the segments of its routes
(`path_words`), and is reduced to English lexemes.
Each lexeme gets an inverse document frequency from the exact count of the chunks in scope
holding it (`docs_lexemes`, kept by triggers), so "agent" in an agents' corpus weighs little
and `set_default_openai_key` much, whatever other collections hold. A chunk scores the sum
over the query's lexemes of idf × a saturating term frequency with field weights (`ts_rank`
of that lexeme alone: title and headings 'A' 0.8, text 'B' 0.4, identifier parts 'C' 0.3;
an everyday English word's headings 0.4, `everyday_words`),
divided by a mild length norm: BM25's shape, computed in PostgreSQL on the candidates only.

Candidates are the chunks holding one of the query's rarest lexemes (`selectors`: at most
MAX_CANDIDATES chunks together, by the exact counts), so common words cannot make a query
slow on a large corpus and the candidates do not depend on scan order; a cheap idf-weighted
count of the lexemes each holds keeps the MAX_SCORED best for the full score. With an
embedder, the full-text list and the nearest chunks by cosine distance are fused by a
weighted sum of their scaled scores (`fuse`: full text 0.7, meaning 0.3). A page gives at
most MAX_PER_PAGE chunks to the top of the list (`diversified`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from rag import schema
from rag.urls import page_key

LEXICAL_WEIGHT = 0.7  # the full-text share of a hybrid score; the nearest chunks by meaning the rest
MAX_PER_PAGE = 2  # a page's further chunks come after every other page's best two
MAX_RANKED = 200  # a lexeme in more chunks than this is common: it scores but selects no candidates
MAX_CANDIDATES = 300  # candidates per query, at most (ranked by idf-weighted coordination)
MAX_SCORED = 100  # of those, the best scored in full (BM25-style)
MAX_SCORED_TERMS = 16  # the query's lexemes scored, rarest first
FIELD_WEIGHTS = (0.1, 0.3, 0.4, 0.8)  # ts_rank weights D, C (identifier parts), B (text), A (headings)
PLAIN_FIELD_WEIGHTS = (0.1, 0.3, 0.4, 0.4)  # an everyday word (`everyday_words`): a heading counts as text
LENGTH_NORM = 0.1  # score / (1 + LENGTH_NORM * ln(1 + distinct lexemes)): long chunks pay a little

_NEGATED = re.compile(r'(?:^|\s)-("[^"]*"?|\S+)')
_PATH = re.compile(r"(?<![\w/])/[A-Za-z0-9_{}.-]+(?:/[A-Za-z0-9_{}.-]+)+")  # /auth/jwt/login


@dataclass(frozen=True)
class Ranked:
    """A chunk in one ranked list: its page, and its score in that list (higher is better)."""

    chunk_id: int
    page_url: str
    score: float


def fuse(
    lexical: Sequence[Ranked], semantic: Sequence[Ranked], weight: float = LEXICAL_WEIGHT
) -> dict[int, float]:
    """Each chunk's fused score in [0, 1]: `weight` x its full-text score over the best one,
    plus (1 - weight) x its similarity scaled between the least and the most similar of the
    nearest chunks (0 for a chunk absent from a list). One list alone is its scaled score."""
    # (list, its share, the score that scales to 0)
    parts = [(lexical, weight, 0.0), (semantic, 1.0 - weight, min((r.score for r in semantic), default=0.0))]
    parts = [part for part in parts if part[0]]
    total = sum(share for _, share, _ in parts)
    scores: dict[int, float] = {}
    for ranked, share, low in parts:
        spread = max(r.score for r in ranked) - low
        for r in ranked:
            scaled = (r.score - low) / spread if spread > 0 else 1.0
            scores[r.chunk_id] = scores.get(r.chunk_id, 0.0) + scaled * share / total
    return scores


def diversified(ranked: list[int], pages: dict[int, str], per_page: int = MAX_PER_PAGE) -> list[int]:
    """`ranked` with each page's chunks beyond its best `per_page` moved after all the others
    (in their order): the top of the list spans more pages, and nothing is dropped."""
    seen: dict[str, int] = {}
    first: list[int] = []
    later: list[int] = []
    for chunk_id in ranked:
        page = page_key(pages[chunk_id])
        seen[page] = seen.get(page, 0) + 1
        (first if seen[page] <= per_page else later).append(chunk_id)
    return first + later


def split_query(query: str) -> tuple[str, str]:
    """(the words to OR together, the negated words as a websearch OR) of a websearch query."""
    negated = [w for w in _NEGATED.findall(query) if w.strip('"')]
    positive = " ".join(_NEGATED.sub(" ", query).split())
    return positive, " or ".join(negated)


def path_words(query: str) -> str:
    """The segments of the URL paths in `query` ("/auth/register": "auth register"): a reader
    names a route whole where the docs give its prefix and its path apart."""
    return " ".join(seg for m in _PATH.finditer(query) for seg in m.group(0).split("/") if seg)


def same_page(url: str, page: str) -> bool:
    """Whether `url` is the page `page` (ignoring anchor, query string and trailing slash)."""
    return page_key(url) == page_key(page)


@dataclass(frozen=True)
class FullTextPlan:
    """What the query's lexemes make of a full-text search: the candidates' tsquery (`any`),
    one tsquery and idf per scored lexeme, and the tsquery highlighted in snippets."""

    highlight: str | None
    any: str | None = None
    terms: tuple[str, ...] = ()
    idf: tuple[float, ...] = ()
    selective: bool = False  # some lexeme is rare enough to select candidates
    plain: tuple[bool, ...] = ()  # per scored lexeme: an everyday word (`everyday_words`)
    version_change: bool = False  # the query says the version changed (`rag.version_notes`)

    @property
    def binds(self) -> dict[str, Any]:
        return {
            "any": self.any,
            **{f"term{i}": t for i, t in enumerate(self.terms)},
            **{f"idf{i}": w for i, w in enumerate(self.idf)},
            **{f"weights{i}": list(self.weights(i)) for i in range(len(self.terms))},
        }

    def weights(self, i: int) -> tuple[float, ...]:
        """The field weights of the `i`th scored lexeme: a heading counts as the text for an
        everyday word (bound, so the statement's text is the same for every query)."""
        return PLAIN_FIELD_WEIGHTS if i < len(self.plain) and self.plain[i] else FIELD_WEIGHTS


def tsquery_any(lexemes: Sequence[str]) -> str | None:
    """tsquery text matching any of `lexemes` (already normalised); None for no lexemes."""
    if not lexemes:
        return None
    return " | ".join("'" + lex.replace("\\", "\\\\").replace("'", "''") + "'" for lex in lexemes)


@dataclass(frozen=True)
class LexemeStats:
    """How many chunks in scope there are, and how many hold each of the query's lexemes
    (`docs_lexemes`, kept exact by triggers; migration 0006)."""

    chunks: float
    counts: dict[str, float]

    def df(self, lexeme: str) -> float:
        return self.counts.get(lexeme, 0.0)

    def idf(self, lexeme: str) -> float:
        """BM25's inverse document frequency (always > 0)."""
        df = self.df(lexeme)
        return math.log(1.0 + (self.chunks - df + 0.5) / (df + 0.5))

    def common(self, lexeme: str) -> bool:
        return self.df(lexeme) > MAX_RANKED


@cache
def everyday_words() -> frozenset[str]:
    """The stems of everyday English words (`rag/data/everyday_words.txt`, made by
    `bench/everyday_words.py` from the shipped static model: the commonest words of its
    vocabulary). In a heading they say little of the section's topic ("Auto-generate a title
    after the first turn", "Structured input: ask for specific answers"), so they score there
    as in the text."""
    source = files("rag.data").joinpath("everyday_words.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip() for line in source.splitlines() if line.strip() and not line.startswith("#")
    )


def selectors(weighted: list[str], stats: LexemeStats) -> list[str]:
    """The lexemes whose chunks are the candidates: the informative ones (in at most
    MAX_RANKED chunks), rarest first, while their chunks add up to at most MAX_CANDIDATES
    (always the rarest one). A chunk holding none of them can only score on commoner words;
    the exact counts make the candidates the same on every run, not whichever the index
    scan met first."""
    chosen: list[str] = []
    total = 0.0
    for lexeme in sorted((lex for lex in weighted if not stats.common(lex)), key=stats.df):
        if chosen and total + stats.df(lexeme) > MAX_CANDIDATES:
            break
        chosen.append(lexeme)
        total += stats.df(lexeme)
    return chosen


def full_text_sql(plan: FullTextPlan, column: str, *, scope: str, negated: bool) -> str:
    """The candidates (any selecting lexeme, `:any`, in `column`, within `scope`, a condition
    on `c.collection`) scored BM25-style; `:negated` words excluded when `negated`."""
    negation = "AND NOT c.tsv @@ websearch_to_tsquery('english', :negated)" if negated else ""
    terms = range(len(plan.terms))
    # Two passes: a cheap one (which rare terms does a candidate hold: idf-weighted
    # coordination) keeps the MAX_SCORED best of MAX_CANDIDATES; the BM25-style score
    # (idf x saturating, field-weighted term frequency, mild length norm) ranks those.
    coordination = " + ".join(
        f"CAST(:idf{i} AS float8) * (m.tsv @@ CAST(:term{i} AS tsquery))::int" for i in terms
    )
    score = " + ".join(
        f"CAST(:idf{i} AS float8) * ts_rank(CAST(:weights{i} AS float4[]), r.tsv, CAST(:term{i} AS tsquery), 0)"
        for i in terms
    )
    # row_number() <= MAX_CANDIDATES stops the (bitmap index) scan early, like a LIMIT, but
    # without tempting the planner into a sequential scan in hope of early matches. A stored
    # tsvector of some size is compressed, and each test or ts_rank of it would decompress it
    # again: `tsv || ''` decompresses it once per candidate (the same lexemes and positions).
    return f"""
        SELECT r.id, r.page_url, ({score}) / (1 + {LENGTH_NORM} * ln(1 + length(r.tsv))) AS score
        FROM (
            SELECT m.id, m.page_url, m.tsv FROM (
                SELECT c.id, c.page_url, c.tsv || ''::tsvector AS tsv, row_number() OVER () AS n
                FROM docs_chunks c
                WHERE c.{column} @@ CAST(:any AS tsquery) {negation} {scope}
            ) AS m WHERE m.n <= {MAX_CANDIDATES}
            ORDER BY {coordination} DESC, m.id LIMIT {MAX_SCORED}
        ) AS r ORDER BY score DESC, r.page_url, r.id LIMIT :depth
    """


def nearest_sql(dims: int, scope: str = "") -> str:
    """The nearest-chunks query for vectors of `dims` dimensions: it repeats the partial HNSW
    index's expression and predicate so that the index serves it (`:vector`, `:depth`),
    within `scope` (a condition on `e.collection`)."""
    expr, _ = schema.vector_expr(dims)
    return f"""
        SELECT n.chunk_id, c.page_url, n.distance FROM (
            SELECT e.chunk_id, {expr} <=> CAST(CAST(:vector AS text) AS {schema.query_cast(dims)}) AS distance
            FROM docs_embeddings e WHERE e.dims = {int(dims)} {scope}
            ORDER BY distance LIMIT :depth
        ) AS n JOIN docs_chunks c ON c.id = n.chunk_id
    """
