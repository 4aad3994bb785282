"""Hybrid documentation search: BM25-style full-text ranking fused with pgvector cosine search.

How chunks are selected, scored and fused is `rag.ranking`'s, how their pages add evidence
`rag.page_evidence`'s. The reader's current page breaks ties (a 2% boost), it does not
outrank a better answer elsewhere. Snippets (`ts_headline`) are computed for the final top k
only, over the text with `<`, `>` and `&` escaped so literal text such as `<model>` survives.
Ties are broken by page URL, then chunk id. `unknown_words` names the query's words that no
chunk in scope holds. The scope (one, several or all collections) is a `SearchQuery`'s, the
same for every statement.

One connection per search, used for one statement at a time: lexemes and their counts, the
ranked lists and the result rows all go through it; the query embedding is computed
while the full-text work runs, without holding a second connection.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from docsdesk.core.terms import query_text
from rag import schema
from rag.embeddings import Embedder
from rag.nearest import NearestChunks
from rag.page_evidence import add_page_evidence
from rag.ranking import (
    MAX_SCORED_TERMS,
    FullTextPlan,
    LexemeStats,
    Ranked,
    diversified,
    everyday_words,
    full_text_sql,
    fuse,
    path_words,
    same_page,
    selectors,
    split_query,
    tsquery_any,
)
from rag.reader_vocabulary import Vocabularies, version_columns
from rag.results import Found
from rag.results import SearchResult as SearchResult  # re-exported: what a search returns
from rag.thesaurus import EXPANSION_WEIGHT, phrase_stems
from rag.top_page import top_page_scores
from rag.unknown_words import words_no_chunk_holds
from rag.urls import absolute_url
from rag.version_notes import version_change

log = logging.getLogger("docsdesk.search")

PREFER_URL_BOOST = 1.02  # the reader's page wins ties and near-ties, not against better answers
MAX_K = 50
MAX_QUERY_CHARS = 1000
CONCURRENT_CHANGE_RETRIES = 3
HEADLINE_OPTIONS = (
    'StartSel=**, StopSel=**, MaxWords=40, MinWords=15, ShortWord=3, MaxFragments=2, FragmentDelimiter=" … "'
)


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
    tenant: str = ""  # the reader's tenant, whose own reader terms apply (rag.reader_vocabulary)
    page_sections: int = 0  # further sections of the top result's page to find (`Found`)

    @classmethod
    def of(
        cls,
        query: str,
        *,
        k: int = 5,
        collection: str | None = None,
        collections: Sequence[str] | None = None,
        prefer_url: str | None = None,
        tenant: str = "",
        page_sections: int = 0,
    ) -> SearchQuery:
        """The query for `search()`'s arguments: one `collection` or several `collections`."""
        if collection is not None and collections is not None:
            raise ValueError("give one collection or several collections, not both")
        scope = (collection,) if collection is not None else collections
        scope = tuple(dict.fromkeys(scope)) if scope is not None else None
        text_ = " ".join(query.split())[:MAX_QUERY_CHARS]
        return cls(text_, max(0, min(k, MAX_K)), scope, prefer_url or None, tenant, max(0, page_sections))

    positive = property(lambda self: split_query(self.text)[0])  # the words to match
    negated = property(lambda self: split_query(self.text)[1])  # the words excluded

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
        self._nearest = NearestChunks(embedder) if embedder is not None else None
        self.vocabularies = Vocabularies()  # each scope's thesaurus (rag.reader_vocabulary)

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
        tenant: str = "",
    ) -> list[SearchResult]:
        """The `k` best chunks for `query`, best first, within one `collection`, several
        `collections`, or (neither) all of them; or as a built `SearchQuery`. The reader
        terms of the collections (and of the reader's `tenant`) expand the query."""
        if not isinstance(query, SearchQuery):
            query = SearchQuery.of(
                query,
                k=k,
                collection=collection,
                collections=collections,
                prefer_url=prefer_url,
                tenant=tenant,
            )
        return (await self.find(query)).results

    async def find(self, query: SearchQuery) -> Found:
        """The results of `query` and, when it asks, further sections of the top page."""
        await self.startup()
        if not query.text or query.k == 0:
            return Found([], [])
        embedding = None
        if self.vector and self.embedder is not None:
            # Computed while the full-text work runs; awaited with the connection held, which
            # waits on the embedder, never on a second pooled connection.
            embedding = asyncio.ensure_future(self.embedder.embed([query.text]))
        try:
            for _ in range(CONCURRENT_CHANGE_RETRIES):
                found, complete = await self._search_once(query, embedding)
                if complete:
                    break
        finally:
            if embedding is not None and not embedding.done():
                embedding.cancel()
                await asyncio.gather(embedding, return_exceptions=True)
        for result in [*found.results, *found.top_page]:
            result.url = absolute_url(result.url, self.public_url)
        return found

    async def _search_once(
        self, query: SearchQuery, embedding: asyncio.Future[list[list[float]]] | None
    ) -> tuple[Found, bool]:
        """One search; False when chunks it ranked were swapped out (by an ingest) before
        their rows were read, so the results may lack some matches: worth running again."""
        depth = max(50, 4 * query.k)
        async with self.engine.connect() as conn:  # the only connection this search takes
            plan = await self._plan(conn, query)
            lexical = await self._full_text(conn, query, plan, depth)
            semantic: list[Ranked] = []
            if embedding is not None and self._nearest is not None:
                [vector] = await embedding
                semantic = await self._nearest.ranked(conn, vector, query, depth)
            return await self._fuse(conn, lexical, semantic, query, plan)

    async def _fuse(
        self,
        conn: AsyncConnection,
        lexical: list[Ranked],
        semantic: list[Ranked],
        query: SearchQuery,
        plan: FullTextPlan,
    ) -> tuple[Found, bool]:
        """Fuse the two lists (`fuse`), add the best pages' evidence (`rag.page_evidence`), let
        the reader's page break ties, read the best `k` rows and the top page's (`rag.top_page`)."""
        pages = {r.chunk_id: r.page_url for r in (*lexical, *semantic)}
        scores = await add_page_evidence(conn, fuse(lexical, semantic), pages, plan)
        if query.prefer_url:
            for chunk_id in scores:
                if same_page(pages[chunk_id], query.prefer_url):
                    scores[chunk_id] *= PREFER_URL_BOOST
        ranked = sorted(scores, key=lambda cid: (-scores[cid], pages[cid], cid))
        best = diversified(ranked, pages)[: query.k]
        more = await top_page_scores(conn, query, plan, best, lexical)
        found = Found.of(await self._fetch(conn, best + list(more), {**more, **scores}, query, plan), more)
        return found, len(found.results) == len(best)

    async def _lexeme_stats(
        self, conn: AsyncConnection, query: SearchQuery
    ) -> tuple[list[str], LexemeStats, frozenset[str]]:
        """The normalised search terms of the query's positive words (question words dropped,
        identifiers expanded, English stemming, stop words dropped) and of their documentation
        terms (the scope's thesaurus, `rag.reader_vocabulary`, whose versions it reads), their
        chunk counts in the query's scope, and which terms come from the thesaurus only; in one
        statement (two when the scope's reader terms changed the expansion since last read)."""
        statement = query.statement(
            f"SELECT q.lexeme, q.extra, coalesce(sum(l.chunks), 0) AS chunks, {version_columns(query)} FROM ("
            " SELECT s.lexeme, bool_and(s.extra) AS extra FROM ("
            " SELECT unnest(array_append(tsvector_to_array(to_tsvector('english', :t)), '')) AS lexeme,"
            " false AS extra UNION ALL"
            " SELECT unnest(tsvector_to_array(to_tsvector('english', :x))), true) AS s GROUP BY s.lexeme"
            f") AS q LEFT JOIN docs_lexemes l ON l.lexeme = q.lexeme {query.scope('l.collection')}"
            " GROUP BY q.lexeme, q.extra"
        )
        words = f"{query_text(query.positive)} {path_words(query.positive)}"

        async def run(terms: tuple[str, ...]) -> Sequence[Any]:
            values = {"t": words, "x": " ".join(terms), "tenant": query.tenant, **query.binds}
            return (await conn.execute(statement, values)).all()

        rows = await self.vocabularies.rows_with(conn, query, run)
        counts = {row.lexeme: float(row.chunks) for row in rows if row.chunks or not row.extra}
        extra = frozenset(row.lexeme for row in rows if row.extra and row.chunks)
        chunks = counts.pop("", 0.0)
        return sorted(counts), LexemeStats(chunks=chunks, counts=counts), extra

    async def _plan(self, conn: AsyncConnection, query: SearchQuery) -> FullTextPlan:
        """The query's lexemes, weighted by their counts in scope (a thesaurus term's less):
        which select the candidates (`selectors`), which are scored, which are highlighted."""
        terms, stats, extra = await self._lexeme_stats(conn, query)
        if not terms:
            return FullTextPlan(highlight=None)

        def idf(lex: str) -> float:
            return stats.idf(lex) * (EXPANSION_WEIGHT if lex in extra else 1.0)

        weighted = sorted(terms, key=lambda lex: (-idf(lex), lex))[:MAX_SCORED_TERMS]
        selecting = selectors(weighted, stats)
        return FullTextPlan(
            highlight=tsquery_any(terms),
            any=tsquery_any(selecting or weighted),
            terms=tuple(tsquery_any([lex]) or "" for lex in weighted),
            idf=tuple(idf(lex) for lex in weighted),
            selective=bool(selecting),
            plain=tuple(lex in everyday_words() for lex in weighted),
            version_change=version_change(query.positive),
        )

    async def _full_text(
        self, conn: AsyncConnection, query: SearchQuery, plan: FullTextPlan, depth: int
    ) -> list[Ranked]:
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

    async def _ranked(
        self, conn: AsyncConnection, query: SearchQuery, plan: FullTextPlan, column: str, depth: int
    ) -> list[Any]:
        """Run a ranked-list SELECT: rows of (id, page_url, score)."""
        sql = full_text_sql(plan, column, scope=query.scope("c.collection"), negated=bool(query.negated))
        statement = query.statement(sql)
        values = {**query.binds, **plan.binds, "negated": query.negated, "depth": depth}
        return list((await conn.execute(statement, values)).all())

    @staticmethod
    async def _fetch(
        conn: AsyncConnection,
        ids: list[int],
        scores: dict[int, float],
        query: SearchQuery,
        plan: FullTextPlan,
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
        self,
        query: str,
        *,
        collection: str | None = None,
        collections: Sequence[str] | None = None,
        tenant: str = "",
    ) -> list[str]:
        """The words of `query` (question and stop words aside) that no chunk in scope holds:
        what the documentation never mentions, in the query's order (an e-mail is one word).
        A word of a reader phrase of the scope's own reader terms (`tenant`'s too), as of its
        last search, is not one: the docs team says the docs cover it in other words."""
        await self.startup()
        scoped = SearchQuery.of(query, collection=collection, collections=collections, tenant=tenant)
        async with self.engine.connect() as conn:
            unknown = await words_no_chunk_holds(conn, scoped, query)
        taught = self.vocabularies.current(scoped).taught(query)
        return [word for word in unknown if not (taught and set(phrase_stems(word)) <= taught)]

    async def stats(self) -> dict[str, Any]:
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
