"""Hybrid documentation search: BM25-style full-text ranking fused with pgvector cosine search.

Full-text: the query loses its question words ("how do I") and contractions, gains the
parts and wholes of its identifiers (`rag.terms`), and is reduced to English lexemes. Each
lexeme gets an inverse document frequency from the exact count of the collection's chunks
holding it (`docs_lexemes`, kept by triggers), so "agent" in an agents' corpus weighs little
and `set_default_openai_key` much, whatever other collections hold. A chunk scores the sum
over the query's lexemes of idf × a saturating term frequency with field weights (`ts_rank`
of that lexeme alone: title and headings 'A' 0.8, text 'B' 0.4, identifier parts 'C' 0.3),
divided by a mild length norm: BM25's shape, computed in PostgreSQL on the candidates only.

Candidates are the chunks holding one of the query's rarest lexemes (`selectors`: at most
MAX_CANDIDATES chunks together, by the exact counts), so common words cannot make a query
slow on a large corpus and the candidates do not depend on scan order; a cheap idf-weighted
count of the lexemes each holds keeps the MAX_SCORED best for the full score; a query made
only of common words is looked up in titles and headings first. With an embedder, the
full-text list and the nearest chunks by cosine distance (pgvector HNSW) are fused by a
weighted sum of their scaled scores (`fuse`: full text 0.7, meaning 0.3). The reader's
current page breaks ties (a 2% boost), it does not outrank a better answer elsewhere. A
page gives at most MAX_PER_PAGE chunks to the
top of the list (`diversified`). Snippets (`ts_headline`) are computed for the final top k
only, over the text with `<`, `>` and `&` escaped so literal text such as `<model>`
survives. Ties are broken by page URL, then chunk id. `unknown_words` names the query's
words that no chunk in scope holds.

One connection per search, used for one statement at a time: lexemes and their counts, the
ranked lists and the result rows all go through it; the query embedding is computed
while the full-text work runs, without holding a second connection.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.core.terms import query_text, question_text
from rag import schema
from rag.embeddings import Embedder, EmbedderMismatch
from rag.urls import normalise_base, page_key


def absolute_url(url: str, public_url: str | None) -> str:
    """A stored site-relative URL (docsdesk's own docs) made absolute with the public URL."""
    if url.startswith("/") and public_url:
        return normalise_base(public_url) + url[1:]
    return url


log = logging.getLogger("docsdesk.search")

LEXICAL_WEIGHT = 0.7  # the full-text share of a hybrid score; the nearest chunks by meaning the rest
PREFER_URL_BOOST = 1.02  # the reader's page wins ties and near-ties, not against better answers
MAX_K = 50
MAX_PER_PAGE = 2  # a page's further chunks come after every other page's best two
MAX_QUERY_CHARS = 1000
MAX_UNKNOWN_WORDS = 32  # words of a query checked against the documentation's vocabulary
MAX_RANKED = 200  # a lexeme in more chunks than this is common: it scores but selects no candidates
MAX_CANDIDATES = 300  # candidates per query, at most (ranked by idf-weighted coordination)
MAX_SCORED = 100  # of those, the best scored in full (BM25-style)
MAX_SCORED_TERMS = 16  # the query's lexemes scored, rarest first
FIELD_WEIGHTS = "{0.1, 0.3, 0.4, 0.8}"  # ts_rank weights D, C (identifier parts), B (text), A (headings)
LENGTH_NORM = 0.1  # score / (1 + LENGTH_NORM * ln(1 + distinct lexemes)): long chunks pay a little
CONCURRENT_CHANGE_RETRIES = 3
HEADLINE_OPTIONS = (
    'StartSel=**, StopSel=**, MaxWords=40, MinWords=15, ShortWord=3, MaxFragments=2, FragmentDelimiter=" … "'
)

_NEGATED = re.compile(r'(?:^|\s)-("[^"]*"?|\S+)')


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


def same_page(url: str, page: str) -> bool:
    """Whether `url` is the page `page` (ignoring anchor, query string and trailing slash)."""
    return page_key(url) == page_key(page)


@dataclass(frozen=True)
class SearchQuery:
    """One search, as asked: the query text (whitespace collapsed, capped), its positive words
    and the negated ones (`split_query`), how many results, the reader's page, and the scope.

    The scope is the collections searched (None: every collection; an empty tuple: none). It is
    built here once and reaches every statement the same way: `scope(column)` is the condition
    on the statement's collection column, with one expanding bind parameter, ``:collections``,
    whose value `binds` holds."""

    text: str
    k: int = 5
    collections: tuple[str, ...] | None = None
    prefer_url: str | None = None

    @classmethod
    def of(
        cls,
        query: str,
        *,
        k: int = 5,
        collection: str | None = None,
        collections: Sequence[str] | None = None,
        prefer_url: str | None = None,
    ) -> SearchQuery:
        """The query for `search()`'s arguments: one `collection` or several `collections`."""
        if collection is not None and collections is not None:
            raise ValueError("give one collection or several collections, not both")
        scope = (collection,) if collection is not None else None
        if collections is not None:
            scope = tuple(dict.fromkeys(collections))
        text_ = " ".join(query.split())[:MAX_QUERY_CHARS]
        return cls(text_, max(0, min(k, MAX_K)), scope, prefer_url or None)

    @property
    def positive(self) -> str:
        return split_query(self.text)[0]

    @property
    def negated(self) -> str:
        return split_query(self.text)[1]

    def scope(self, column: str) -> str:
        """``AND <column> IN (...)`` for a scoped query, else nothing."""
        return f"AND {column} IN :collections" if self.collections is not None else ""

    def statement(self, sql: str) -> TextClause:
        """`sql` as a statement, with ``:collections`` expanding when the query is scoped."""
        statement = text(sql)
        if self.collections is not None:
            statement = statement.bindparams(bindparam("collections", expanding=True, type_=String))
        return statement

    @property
    def binds(self) -> dict[str, Any]:
        return {"collections": list(self.collections)} if self.collections is not None else {}


@dataclass(frozen=True)
class _FullTextPlan:
    """What the query's lexemes make of a full-text search: the candidates' tsquery (`any`),
    one tsquery and idf per scored lexeme, and the tsquery highlighted in snippets."""

    highlight: str | None
    any: str | None = None
    terms: tuple[str, ...] = ()
    idf: tuple[float, ...] = ()
    selective: bool = False  # some lexeme is rare enough to select candidates

    @property
    def binds(self) -> dict[str, Any]:
        return {
            "any": self.any,
            **{f"term{i}": t for i, t in enumerate(self.terms)},
            **{f"idf{i}": w for i, w in enumerate(self.idf)},
        }


def tsquery_any(lexemes: Sequence[str]) -> str | None:
    """tsquery text matching any of `lexemes` (already normalised); None for no lexemes."""
    if not lexemes:
        return None
    return " | ".join("'" + lex.replace("\\", "\\\\").replace("'", "''") + "'" for lex in lexemes)


def nearest_sql(dims: int, query: SearchQuery) -> str:
    """The nearest-chunks query for vectors of `dims` dimensions: it repeats the partial HNSW
    index's expression and predicate so that the index serves it (`:vector`, `:depth`,
    and the query's scope)."""
    expr, _ = schema.vector_expr(dims)
    scope = query.scope("e.collection")
    return f"""
        SELECT n.chunk_id, c.page_url, n.distance FROM (
            SELECT e.chunk_id, {expr} <=> CAST(CAST(:vector AS text) AS {schema.query_cast(dims)}) AS distance
            FROM docs_embeddings e WHERE e.dims = {int(dims)} {scope}
            ORDER BY distance LIMIT :depth
        ) AS n JOIN docs_chunks c ON c.id = n.chunk_id
    """


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


class DocsSearch:
    """Searches the ingested documentation; one instance per process."""

    def __init__(
        self, engine: AsyncEngine, embedder: Embedder | None = None, *, public_url: str | None = None
    ) -> None:
        self.engine = engine
        self.embedder = embedder
        self.public_url = public_url  # makes the own docs' site-relative URLs absolute
        self.vector = False
        self._started = False
        self._start_lock = asyncio.Lock()

    async def startup(self) -> None:
        """Detect pgvector once; without it (or the embeddings table) search is full-text only."""
        async with self._start_lock:
            if self._started:
                return
            async with self.engine.connect() as conn:
                self.vector = await schema.vector_installed(conn) and bool(
                    await conn.scalar(text("SELECT to_regclass('docs_embeddings') IS NOT NULL"))
                )
            if not self.vector:
                log.warning(
                    "pgvector is not available in this database: documentation search is full-text only"
                )
            self._started = True

    async def search(
        self,
        query: str | SearchQuery,
        *,
        k: int = 5,
        collection: str | None = None,
        collections: Sequence[str] | None = None,
        prefer_url: str | None = None,
    ) -> list[SearchResult]:
        """The `k` best chunks for `query`, best first, within one `collection`, several
        `collections`, or (neither) all of them; or as a built `SearchQuery`."""
        if not isinstance(query, SearchQuery):
            query = SearchQuery.of(
                query, k=k, collection=collection, collections=collections, prefer_url=prefer_url
            )
        await self.startup()
        if not query.text or query.k == 0:
            return []
        embedding = None
        if self.vector and self.embedder is not None:
            # Computed while the full-text work runs; awaited with the connection held, which
            # waits on the embedder, never on a second pooled connection.
            embedding = asyncio.ensure_future(self.embedder.embed([query.text]))
        try:
            for _ in range(CONCURRENT_CHANGE_RETRIES):
                results, complete = await self._search_once(query, embedding)
                if complete:
                    break
        finally:
            if embedding is not None and not embedding.done():
                embedding.cancel()
                await asyncio.gather(embedding, return_exceptions=True)
        for result in results:
            result.url = absolute_url(result.url, self.public_url)
        return results

    async def _search_once(self, query: SearchQuery, embedding) -> tuple[list[SearchResult], bool]:
        """One search; False when chunks it ranked were swapped out (by an ingest) before
        their rows were read, so the results may lack some matches: worth running again."""
        depth = max(50, 4 * query.k)
        async with self.engine.connect() as conn:  # the only connection this search takes
            plan = await self._plan(conn, query)
            lexical = await self._full_text(conn, query, plan, depth)
            semantic: list[Ranked] = []
            if embedding is not None:
                [vector] = await embedding
                semantic = await self._nearest(conn, vector, query, depth)
            return await self._fuse(conn, lexical, semantic, query, plan)

    async def _fuse(
        self,
        conn,
        lexical: list[Ranked],
        semantic: list[Ranked],
        query: SearchQuery,
        plan: _FullTextPlan,
    ) -> tuple[list[SearchResult], bool]:
        """Fuse the two lists (`fuse`), let the reader's page break ties, read the best `k` rows."""
        pages = {r.chunk_id: r.page_url for r in (*lexical, *semantic)}
        scores = fuse(lexical, semantic)
        if query.prefer_url:
            for chunk_id in scores:
                if same_page(pages[chunk_id], query.prefer_url):
                    scores[chunk_id] *= PREFER_URL_BOOST
        ranked = sorted(scores, key=lambda cid: (-scores[cid], pages[cid], cid))
        best = diversified(ranked, pages)[: query.k]
        results = await self._fetch(conn, best, scores, query, plan)
        return results, len(results) == len(best)

    @staticmethod
    async def _lexeme_stats(conn, query: SearchQuery) -> tuple[list[str], LexemeStats]:
        """The normalised search terms of the query's positive words (question words dropped,
        identifiers expanded, English stemming, stop words dropped) and their chunk counts in
        the query's scope, in one statement."""
        statement = query.statement(
            "SELECT q.lexeme, coalesce(sum(l.chunks), 0) AS chunks FROM"
            " unnest(array_append(tsvector_to_array(to_tsvector('english', :t)), '')) AS q(lexeme)"
            f" LEFT JOIN docs_lexemes l ON l.lexeme = q.lexeme {query.scope('l.collection')}"
            " GROUP BY q.lexeme"
        )
        values = {"t": query_text(query.positive), **query.binds}
        rows = (await conn.execute(statement, values)).all()
        counts = {row.lexeme: float(row.chunks) for row in rows}
        chunks = counts.pop("", 0.0)
        return sorted(counts), LexemeStats(chunks=chunks, counts=counts)

    async def _plan(self, conn, query: SearchQuery) -> _FullTextPlan:
        """The query's lexemes, weighted by their counts in scope: which select the candidates
        (`selectors`), which are scored, which are highlighted."""
        terms, stats = await self._lexeme_stats(conn, query)
        if not terms:
            return _FullTextPlan(highlight=None)
        weighted = sorted(terms, key=lambda lex: (-stats.idf(lex), lex))[:MAX_SCORED_TERMS]
        selecting = selectors(weighted, stats)
        return _FullTextPlan(
            highlight=tsquery_any(terms),
            any=tsquery_any(selecting or weighted),
            terms=tuple(tsquery_any([lex]) or "" for lex in weighted),
            idf=tuple(stats.idf(lex) for lex in weighted),
            selective=bool(selecting),
        )

    async def _full_text(self, conn, query: SearchQuery, plan: _FullTextPlan, depth: int) -> list[Ranked]:
        """The full-text list, best first (score: the BM25-style score).

        Candidates hold one of the selecting lexemes (`selectors`); a query made only of very
        common words is looked up in titles and headings, then, if fewer than `k` have them,
        among some of the chunks holding any of them. Every lexeme of the query counts."""
        if plan.highlight is None:
            return []
        column = "tsv" if plan.selective else "heading_tsv"
        rows = await self._ranked(conn, query, plan, column, depth)
        if column == "heading_tsv" and len(rows) < query.k:
            seen = {r.id for r in rows}
            rows += [r for r in await self._ranked(conn, query, plan, "tsv", depth) if r.id not in seen]
        rows.sort(key=lambda r: (-r.score, r.page_url, r.id))
        return [Ranked(r.id, r.page_url, r.score) for r in rows[:depth]]

    @staticmethod
    def _full_text_sql(query: SearchQuery, plan: _FullTextPlan, column: str) -> str:
        """The candidates (any selecting lexeme, `:any`, in `column`) scored BM25-style."""
        scope = query.scope("c.collection")
        negation = "AND NOT c.tsv @@ websearch_to_tsquery('english', :negated)" if query.negated else ""
        terms = range(len(plan.terms))
        # Two passes: a cheap one (which rare terms does a candidate hold: idf-weighted
        # coordination) keeps the MAX_SCORED best of MAX_CANDIDATES; the BM25-style score
        # (idf x saturating, field-weighted term frequency, mild length norm) ranks those.
        coordination = " + ".join(
            f"CAST(:idf{i} AS float8) * (m.tsv @@ CAST(:term{i} AS tsquery))::int" for i in terms
        )
        score = " + ".join(
            f"CAST(:idf{i} AS float8) * ts_rank('{FIELD_WEIGHTS}', r.tsv, CAST(:term{i} AS tsquery), 0)"
            for i in terms
        )
        # row_number() <= MAX_CANDIDATES stops the (bitmap index) scan early, like a LIMIT, but
        # without tempting the planner into a sequential scan in hope of early matches.
        return f"""
            SELECT r.id, r.page_url, ({score}) / (1 + {LENGTH_NORM} * ln(1 + length(r.tsv))) AS score
            FROM (
                SELECT m.id, m.page_url, m.tsv FROM (
                    SELECT c.id, c.page_url, c.tsv, row_number() OVER () AS n
                    FROM docs_chunks c
                    WHERE c.{column} @@ CAST(:any AS tsquery) {negation} {scope}
                ) AS m WHERE m.n <= {MAX_CANDIDATES}
                ORDER BY {coordination} DESC, m.id LIMIT {MAX_SCORED}
            ) AS r ORDER BY score DESC, r.page_url, r.id LIMIT :depth
        """

    async def _ranked(self, conn, query: SearchQuery, plan: _FullTextPlan, column: str, depth: int) -> list:
        """Run a ranked-list SELECT: rows of (id, page_url, score)."""
        statement = query.statement(self._full_text_sql(query, plan, column))
        values = {**query.binds, **plan.binds, "negated": query.negated, "depth": depth}
        return list((await conn.execute(statement, values)).all())

    async def _nearest(self, conn, vector: list[float], query: SearchQuery, depth: int) -> list[Ranked]:
        """The chunks nearest to the query's embedding, nearest first (score: 1 - cosine distance)."""
        assert self.embedder is not None
        dims = await self._vector_dims(conn, query)
        if dims is None:
            return []
        if len(vector) != dims:
            raise EmbedderMismatch(
                f"{self.embedder.name} gives {len(vector)}-dimension vectors but the documentation was "
                f"embedded with {dims}: re-ingest with this embedder"
            )
        # Search deep enough for `depth` results, and keep scanning the graph when the
        # collection filter drops candidates (pgvector >= 0.8 iterative scans). Local to the
        # connection's transaction, which ends (rolled back) when it goes back to the pool.
        await conn.execute(
            text(
                "SELECT set_config('hnsw.ef_search', :ef, true),"
                " set_config('hnsw.iterative_scan', 'relaxed_order', true)"
            ),
            {"ef": str(max(40, depth))},
        )
        values = {"vector": schema.vector_literal(vector), "depth": depth, **query.binds}
        rows = (await conn.execute(query.statement(nearest_sql(dims, query)), values)).all()
        rows.sort(key=lambda r: (r.distance, r.page_url, r.chunk_id))
        return [Ranked(r.chunk_id, r.page_url, 1.0 - r.distance) for r in rows]

    async def _vector_dims(self, conn, query: SearchQuery) -> int | None:
        """The dimension of the vectors in scope (None: no vectors); refuses another embedder's."""
        assert self.embedder is not None
        statement = query.statement(
            "SELECT name, embedder, dimensions FROM docs_collections"
            f" WHERE embedder IS NOT NULL AND dimensions IS NOT NULL {query.scope('name')}"
        )
        rows = (await conn.execute(statement, query.binds)).all()
        for name, embedder, dims in rows:
            known = self.embedder.dimensions
            if embedder != self.embedder.name or (known and known != dims):
                raise EmbedderMismatch(
                    f"collection {name!r} was embedded with {embedder} ({dims} dimensions), not "
                    f"{self.embedder.name}: re-ingest it with this embedder"
                )
        return rows[0].dimensions if rows else None

    @staticmethod
    async def _fetch(
        conn, ids: list[int], scores: dict[int, float], query: SearchQuery, plan: _FullTextPlan
    ) -> list[SearchResult]:
        """The result rows for `ids`, with highlighted snippets (for these rows only)."""
        if not ids:
            return []
        highlight = (
            "CAST(:highlight AS tsquery)" if plan.highlight else "websearch_to_tsquery('english', :query)"
        )
        # ts_headline reads its input as HTML and drops what looks like a tag (`<model>`):
        # give it the text with markup characters escaped, and unescape its output.
        escaped = "replace(replace(replace(c.text, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
        sql = f"""
            SELECT c.id, c.page_title, c.heading_path, c.url, c.text, c.collection, d.source_path,
                   ts_headline('english', {escaped}, {highlight}, :options) AS snippet
            FROM docs_chunks c JOIN docs_documents d ON d.id = c.document_id
            WHERE c.id = ANY(:ids)
        """
        values = {"highlight": plan.highlight, "query": query.text, "ids": ids, "options": HEADLINE_OPTIONS}
        rows = (await conn.execute(text(sql), values)).all()
        by_id = {row.id: row for row in rows}
        return [
            SearchResult(
                title=row.page_title,
                heading_path=list(row.heading_path),
                url=row.url,
                snippet=" ".join(html.unescape(row.snippet).split()),
                score=scores[cid],
                text=row.text,
                source_path=row.source_path,
                collection=row.collection,
                chunk_id=cid,
            )
            for cid in ids
            if (row := by_id.get(cid)) is not None  # swapped out by an ingest meanwhile
        ]

    async def unknown_words(
        self, query: str, *, collection: str | None = None, collections: Sequence[str] | None = None
    ) -> list[str]:
        """The words of `query` (question and stop words aside) that no chunk in scope holds:
        what the documentation never mentions, in the query's order."""
        await self.startup()
        scoped = SearchQuery.of(query, collection=collection, collections=collections)
        words = list(dict.fromkeys(re.findall(r"[^\W_][\w.'’-]*[^\W_]|[^\W_]", question_text(query))))[
            :MAX_UNKNOWN_WORDS
        ]
        if not words:
            return []
        statement = scoped.statement(f"""
            SELECT w.word FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS w(word, n)
            CROSS JOIN LATERAL (SELECT tsvector_to_array(to_tsvector('english', w.word)) AS lexemes) AS t
            WHERE cardinality(t.lexemes) > 0 AND coalesce((
                SELECT sum(l.chunks) FROM docs_lexemes l
                WHERE l.lexeme = ANY(t.lexemes) {scoped.scope("l.collection")}
            ), 0) <= 0 ORDER BY w.n
        """)
        async with self.engine.connect() as conn:
            rows = await conn.execute(statement, {"words": words, **scoped.binds})
            return [row.word for row in rows]

    async def stats(self) -> dict:
        """Counts for readiness checks: chunks, documents, collections, vector support, embedder."""
        await self.startup()
        async with self.engine.connect() as conn:
            chunks = await conn.scalar(text("SELECT count(*) FROM docs_chunks"))
            documents = await conn.scalar(text("SELECT count(*) FROM docs_documents"))
            names = (
                (await conn.execute(text("SELECT name FROM docs_collections ORDER BY name"))).scalars().all()
            )
        return {
            "chunks": chunks,
            "documents": documents,
            "collections": list(names),
            "vector": self.vector,
            "embedder": self.embedder.name if self.embedder is not None else None,
        }
