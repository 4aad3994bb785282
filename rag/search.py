"""Hybrid documentation search: weighted full-text search fused with pgvector cosine search.

Three ranked lists (`ts_rank_cd` over a tsvector weighting title and headings 'A', body 'B')
are fused by reciprocal rank fusion (k=60): the chunks matching `websearch_to_tsquery`
(all terms), those matching an OR of the query's lexemes (so a question in plain language
still finds pages holding only some of its words; chunks holding more of the words first),
and, with an embedder, the nearest chunks by cosine distance (pgvector HNSW). Chunks of the
reader's current page get a boost. Snippets (`ts_headline`) are computed for the final top k
only. Ties are broken by page URL, then chunk order, so results do not depend on the order
in which files were ingested.

Scale: ranking reads each candidate's tsvector, so no list ranks more than MAX_RANKED
matches, and the OR list leaves out lexemes the planner's statistics say are in more than
MAX_RANKED chunks (they still count in the all-terms list); a query made only of such
common words is looked up in titles and headings first.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from rag import schema
from rag.embeddings import Embedder, EmbedderMismatch


def absolute_url(url: str, public_url: str | None) -> str:
    """A stored site-relative URL (docsdesk's own docs) made absolute with the public URL."""
    if url.startswith("/") and public_url:
        return public_url.rstrip("/") + url
    return url

log = logging.getLogger("docsdesk.search")

RRF_K = 60
PREFER_URL_BOOST = 1.3
MAX_K = 50
MAX_QUERY_CHARS = 1000
MAX_RANKED = 200  # matching chunks ranked per full-text list, at most
RANK_NORMALIZATION = 4  # ts_rank_cd: divide by the mean harmonic distance between covers
STATS_TTL_SECONDS = 60.0
MAX_COORDINATION_TERMS = 16
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


def rrf_fuse(ranked_lists: Iterable[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: each id scores the sum of 1 / (k + rank) over the lists."""
    scores: dict[int, float] = {}
    for ranked in ranked_lists:
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return scores


def split_query(query: str) -> tuple[str, str]:
    """(the words to OR together, the negated words as a websearch OR) of a websearch query."""
    negated = [w for w in _NEGATED.findall(query) if w.strip('"')]
    positive = " ".join(_NEGATED.sub(" ", query).split())
    return positive, " or ".join(negated)


def same_page(url: str, page: str) -> bool:
    """Whether `url` is the page `page` (ignoring anchor, query string and trailing slash)."""
    return _page_key(url) == _page_key(page)


def _page_key(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0].rstrip("/")


def tsquery_any(lexemes: Sequence[str]) -> str | None:
    """tsquery text matching any of `lexemes` (already normalised); None for no lexemes."""
    if not lexemes:
        return None
    return " | ".join("'" + lex.replace("\\", "\\\\").replace("'", "''") + "'" for lex in lexemes)


def nearest_sql(dims: int, *, scoped: bool) -> str:
    """The nearest-chunks query for vectors of `dims` dimensions: it repeats the partial HNSW
    index's expression and predicate so that the index serves it (`:vector`, `:depth`,
    and `:collection` when `scoped`)."""
    expr, _ = schema.vector_expr(dims)
    scope = "AND e.collection = :collection" if scoped else ""
    return f"""
        SELECT n.chunk_id, c.page_url, n.distance FROM (
            SELECT e.chunk_id, {expr} <=> CAST(CAST(:vector AS text) AS {schema.query_cast(dims)}) AS distance
            FROM docs_embeddings e WHERE e.dims = {int(dims)} {scope}
            ORDER BY distance LIMIT :depth
        ) AS n JOIN docs_chunks c ON c.id = n.chunk_id
    """


class DocsSearch:
    """Searches the ingested documentation; one instance per process."""

    def __init__(self, engine: AsyncEngine, embedder: Embedder | None = None, *, public_url: str | None = None) -> None:
        self.engine = engine
        self.embedder = embedder
        self.public_url = public_url  # makes the own docs' site-relative URLs absolute
        self.vector = False
        self._started = False
        self._start_lock = asyncio.Lock()
        self._common: frozenset[str] | None = None
        self._common_at = 0.0

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
                log.warning("pgvector is not available in this database: documentation search is full-text only")
            self._started = True

    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        collection: str | None = None,
        prefer_url: str | None = None,
    ) -> list[SearchResult]:
        """The `k` best chunks for `query`, best first, optionally within one collection."""
        await self.startup()
        query = " ".join(query.split())[:MAX_QUERY_CHARS]
        k = max(0, min(k, MAX_K))
        if not query or k == 0:
            return []
        for _ in range(CONCURRENT_CHANGE_RETRIES):
            results, complete = await self._search_once(query, k, collection, prefer_url)
            if complete:
                break
        for result in results:
            result.url = absolute_url(result.url, self.public_url)
        return results

    async def _search_once(
        self, query: str, k: int, collection: str | None, prefer_url: str | None
    ) -> tuple[list[SearchResult], bool]:
        """One search; False when chunks it ranked were swapped out (by an ingest) before
        their rows were read, so the results may lack some matches: worth running again."""
        depth = max(50, 4 * k)
        params = {"query": query, "collection": collection}
        use_vectors = self.vector and self.embedder is not None
        # One connection for the whole full-text path (lexemes, ranked lists, result rows);
        # the vector list, when there is one, runs alongside on its own.
        async with self.engine.connect() as conn:
            # Both must finish before the connection goes back to the pool, even if one fails.
            lexical, semantic = await asyncio.gather(
                self._full_text(conn, params, k, depth),
                self._nearest(query, collection, depth) if use_vectors else _nothing(),
                return_exceptions=True,
            )
            for outcome in (lexical, semantic):
                if isinstance(outcome, BaseException):
                    raise outcome
            return await self._fuse(conn, lexical, semantic, k, params, prefer_url)

    async def _fuse(
        self, conn, lexical, semantic, k: int, params: dict, prefer_url: str | None
    ) -> tuple[list[SearchResult], bool]:
        """Fuse the ranked lists (RRF), boost the reader's page, read the best `k` rows."""
        pages: dict[int, str] = {}
        lists: list[list[int]] = []
        for ranked in (*lexical, semantic):
            lists.append([chunk_id for chunk_id, _ in ranked])
            pages.update(ranked)
        scores = rrf_fuse(lists)
        if prefer_url:
            for chunk_id in scores:
                if same_page(pages[chunk_id], prefer_url):
                    scores[chunk_id] *= PREFER_URL_BOOST
        best = sorted(scores, key=lambda cid: (-scores[cid], pages[cid], cid))[:k]
        results = await self._fetch(conn, best, scores, params)
        return results, len(results) == len(best)

    @staticmethod
    async def _lexemes(conn, text_: str) -> list[str]:
        """The normalised search terms of `text_` (English stemming, stop words dropped)."""
        terms = await conn.scalar(
            text("SELECT tsvector_to_array(to_tsvector('english', :t))"), {"t": text_}
        )
        return list(terms or [])

    async def _common_lexemes(self) -> frozenset[str]:
        """Lexemes expected to match more than MAX_RANKED chunks (from the planner's statistics
        of the tsvector column, refreshed every STATS_TTL_SECONDS)."""
        now = time.monotonic()
        if self._common is not None and now - self._common_at < STATS_TTL_SECONDS:
            return self._common
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT s.most_common_elems::text::text[] AS lexemes, s.most_common_elem_freqs AS freqs,"
                        " c.reltuples FROM pg_class c LEFT JOIN pg_stats s ON s.schemaname = current_schema()"
                        " AND s.tablename = 'docs_chunks' AND s.attname = 'tsv'"
                        " WHERE c.oid = to_regclass('docs_chunks')"
                    )
                )
            ).first()
        common: frozenset[str] = frozenset()
        if row is not None and row.lexemes and row.reltuples > 0:
            common = frozenset(
                lex for lex, freq in zip(row.lexemes, row.freqs) if freq * row.reltuples > MAX_RANKED
            )
        self._common, self._common_at = common, now
        return common

    async def _full_text(
        self, conn, params: dict, k: int, depth: int
    ) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
        """The all-terms list and the any-term list: (chunk id, page URL), best first.

        Fills `params` with the tsqueries used (for the snippets). The any-term list ORs the
        informative terms (those in at most MAX_RANKED chunks); a query made only of very
        common words is looked up in titles and headings, then, if fewer than `k` have them,
        among some of the chunks holding them all. Each list ranks at most MAX_RANKED
        matches, so common words cannot make a query slow on a large corpus."""
        positive, params["negated"] = split_query(params["query"])
        terms = await self._lexemes(conn, positive)
        common = await self._common_lexemes()
        informative = [lex for lex in terms if lex not in common]
        params["any"] = tsquery_any(informative or terms)
        params["highlight"] = tsquery_any(terms)
        params["terms"] = [tsquery_any([lex]) for lex in (informative or terms)[:MAX_COORDINATION_TERMS]]
        column = "tsv" if informative or not terms else "heading_tsv"
        rows = await self._ranked(conn, self._full_text_sql(params, column), params, depth)
        if column == "heading_tsv" and len({r.id for r in rows}) < k:
            body = await self._ranked(conn, self._full_text_sql(params, "tsv")[:1], params, depth)
            seen = {r.id for r in rows if r.list == "a"}
            rows += [r for r in body if r.id not in seen]
        rows.sort(key=lambda r: (r.list, -r.matched, -r.rank, r.page_url, r.id))
        return (
            [(r.id, r.page_url) for r in rows if r.list == "a"],
            [(r.id, r.page_url) for r in rows if r.list == "o"],
        )

    @staticmethod
    def _full_text_sql(params: dict, column: str) -> list[str]:
        """One ranked-list SELECT per list: all terms (websearch syntax), then any term."""
        scope = "AND c.collection = :collection" if params["collection"] is not None else ""
        negation = "&& !! websearch_to_tsquery('english', :negated)" if params["negated"] else ""
        # The any-term list ranks chunks holding more of the terms first (coordination).
        matched = " + ".join(f"(m.tsv @@ CAST(:term{i} AS tsquery))::int" for i in range(len(params["terms"])))
        queries = [("a", "websearch_to_tsquery('english', :query)", "0")]
        if params["any"] is not None:
            queries.append(("o", f"(CAST(:any AS tsquery) {negation})", matched))
        # row_number() <= MAX_RANKED stops the (bitmap index) scan early, like a LIMIT, but
        # without tempting the planner into a sequential scan in hope of early matches.
        return [
            f"""
            (SELECT '{name}' AS list, m.id, m.page_url, {coordination} AS matched,
                    ts_rank_cd(m.tsv, m.q, {RANK_NORMALIZATION}) AS rank
            FROM (
                SELECT c.id, c.page_url, c.tsv, q.q, row_number() OVER () AS n
                FROM docs_chunks c, (SELECT {tsquery} AS q) AS q
                WHERE c.{column} @@ q.q {scope}
            ) AS m WHERE m.n <= {MAX_RANKED} ORDER BY matched DESC, rank DESC, m.page_url, m.id LIMIT :depth)
            """
            for name, tsquery, coordination in queries
        ]

    @staticmethod
    async def _ranked(conn, lists: list[str], params: dict, depth: int) -> list:
        """Run the ranked-list SELECTs as one statement: rows of (list, id, page_url, matched, rank)."""
        values = {**params, "depth": depth, **{f"term{i}": t for i, t in enumerate(params["terms"])}}
        return list((await conn.execute(text(" UNION ALL ".join(lists)), values)).all())

    async def _nearest(self, query: str, collection: str | None, depth: int) -> list[tuple[int, str]]:
        """The chunks nearest to the query's embedding: (chunk id, page URL), nearest first."""
        assert self.embedder is not None
        dims = await self._vector_dims(collection)
        if dims is None:
            return []
        [vector] = await self.embedder.embed([query])
        if len(vector) != dims:
            raise EmbedderMismatch(
                f"{self.embedder.name} gives {len(vector)}-dimension vectors but the documentation was "
                f"embedded with {dims}: re-ingest with this embedder"
            )
        sql = nearest_sql(dims, scoped=collection is not None)
        async with self.engine.begin() as conn:
            # Search deep enough for `depth` results, and keep scanning the graph when the
            # collection filter drops candidates (pgvector >= 0.8 iterative scans).
            await conn.execute(
                text(
                    "SELECT set_config('hnsw.ef_search', :ef, true),"
                    " set_config('hnsw.iterative_scan', 'relaxed_order', true)"
                ),
                {"ef": str(max(40, depth))},
            )
            rows = (
                await conn.execute(
                    text(sql),
                    {"vector": schema.vector_literal(vector), "collection": collection, "depth": depth},
                )
            ).all()
        rows.sort(key=lambda r: (r.distance, r.page_url, r.chunk_id))
        return [(r.chunk_id, r.page_url) for r in rows]

    async def _vector_dims(self, collection: str | None) -> int | None:
        """The dimension of the vectors in scope (None: no vectors); refuses another embedder's."""
        assert self.embedder is not None
        scope = "AND name = :collection" if collection is not None else ""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT name, embedder, dimensions FROM docs_collections"
                        f" WHERE embedder IS NOT NULL AND dimensions IS NOT NULL {scope}"
                    ),
                    {"collection": collection},
                )
            ).all()
        for name, embedder, dims in rows:
            known = self.embedder.dimensions
            if embedder != self.embedder.name or (known and known != dims):
                raise EmbedderMismatch(
                    f"collection {name!r} was embedded with {embedder} ({dims} dimensions), not "
                    f"{self.embedder.name}: re-ingest it with this embedder"
                )
        return rows[0].dimensions if rows else None

    @staticmethod
    async def _fetch(conn, ids: list[int], scores: dict[int, float], params: dict) -> list[SearchResult]:
        """The result rows for `ids`, with highlighted snippets (for these rows only)."""
        if not ids:
            return []
        highlight = "CAST(:highlight AS tsquery)" if params["highlight"] else "websearch_to_tsquery('english', :query)"
        sql = f"""
            SELECT c.id, c.page_title, c.heading_path, c.url, c.text, c.collection, d.source_path,
                   ts_headline('english', c.text, {highlight}, :options) AS snippet
            FROM docs_chunks c JOIN docs_documents d ON d.id = c.document_id
            WHERE c.id = ANY(:ids)
        """
        rows = (await conn.execute(text(sql), {**params, "ids": ids, "options": HEADLINE_OPTIONS})).all()
        by_id = {row.id: row for row in rows}
        return [
            SearchResult(
                title=row.page_title,
                heading_path=list(row.heading_path),
                url=row.url,
                snippet=" ".join(row.snippet.split()),
                score=scores[cid],
                text=row.text,
                source_path=row.source_path,
                collection=row.collection,
                chunk_id=cid,
            )
            for cid in ids
            if (row := by_id.get(cid)) is not None  # swapped out by an ingest meanwhile
        ]

    async def stats(self) -> dict:
        """Counts for readiness checks: chunks, documents, collections, vector support, embedder."""
        await self.startup()
        async with self.engine.connect() as conn:
            chunks = await conn.scalar(text("SELECT count(*) FROM docs_chunks"))
            documents = await conn.scalar(text("SELECT count(*) FROM docs_documents"))
            names = (await conn.execute(text("SELECT name FROM docs_collections ORDER BY name"))).scalars().all()
        return {
            "chunks": chunks,
            "documents": documents,
            "collections": list(names),
            "vector": self.vector,
            "embedder": self.embedder.name if self.embedder is not None else None,
        }


async def _nothing() -> list[tuple[int, str]]:
    return []
