"""Search latency at 1k / 10k / 100k chunks and ingest throughput; prints its figures.

    python bench/search_scale.py [--scales 1000,10000,100000] [--queries 200]

Uses DATABASE_URL when set (a scratch database: the bench adds collections named
"bench-*" and deletes them at the end), otherwise an embedded PostgreSQL in a temp dir.

- Corpus: synthetic chunks of 60-200 words drawn from a Zipf-distributed vocabulary whose
  head is English stop words (as in real text) followed by 30,000 made-up content words;
  ten chunks per page. Bulk-loaded with COPY into the real tables (the triggers count the
  lexemes), the counts compacted as after an ingest, then VACUUM ANALYZE.
- Queries: 2-6 words from the same distribution (stop words included, like questions).
- Full-text: `DocsSearch(engine)`. Hybrid: `DocsSearch(engine, embedder)` with a fast
  deterministic 384-dimension random-projection embedder (sum of fixed random word
  vectors, normalised): realistic vector work for PostgreSQL, no model in the loop.
- Latency is end to end through `DocsSearch.search` (k=5, one collection), snippets
  included, after warm-up; p50 / p95 over the queries. The configurations (and the baseline's)
  are interleaved query by query, so load from other processes hits them alike.
- Ingest: real `ingest()` of 400 generated markdown files (full-text only, a fresh
  database), MB/s, then the re-run over the unchanged files.

- `--reader-terms N`: the collection gets N reader terms of its own (rag.reader_terms), a
  content word of the head of the vocabulary each mapped to two others, so that searches run
  with a cached vocabulary of the collection's (and some queries are expanded by it).
- `--baseline REV`: also measures `rag/search.py`, `rag/ranking.py` and `rag/page_evidence.py` as they were at git revision REV (loaded
  from git, run on the same data in the same run) and prints the p95 ratios new / old.

Targets: p95 <= 30 ms at 100k chunks (full-text and hybrid), ingest >= 2 MB/s. The whole
run takes about 90 s on 2 cores (most of it building the 100k HNSW index).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pgvector.asyncpg import register_vector
from scipy import sparse
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docsdesk.core.database import open_database
from docsdesk.core.settings import Settings
from rag import schema
from rag.ingest import ingest
from rag.ranking import nearest_sql
from rag.search import DocsSearch, SearchQuery

DIMS = 384
CONTENT_WORDS = 30_000
CHUNKS_PER_PAGE = 10
STOP_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "i",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "not",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "an",
    "each",
    "she",
    "which",
    "do",
    "their",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "would",
    "like",
    "so",
    "these",
    "her",
    "see",
    "him",
    "has",
    "more",
    "could",
    "go",
    "come",
    "did",
    "my",
    "no",
    "most",
    "who",
    "over",
    "know",
    "than",
    "call",
    "first",
    "down",
    "side",
    "been",
    "now",
    "find",
]
SYLLABLES = [c + v for c in "bcdfghjklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


class RandomProjectionEmbedder:
    """Sum of fixed random unit vectors of the text's words, normalised (deterministic)."""

    name = f"bench:random-projection-{DIMS}"
    dimensions = DIMS

    def __init__(self, vocabulary: list[str], seed: int = 7) -> None:
        self.index = {word: i for i, word in enumerate(vocabulary)}
        rng = np.random.default_rng(seed)
        self.matrix = rng.standard_normal((len(vocabulary), DIMS)).astype(np.float32)
        self.matrix /= np.linalg.norm(self.matrix, axis=1, keepdims=True)

    def embed_ids(self, id_lists: list[np.ndarray]) -> np.ndarray:
        """Vectors for texts given as arrays of word ids (a sparse count matrix times the table)."""
        indptr = np.cumsum([0] + [len(ids) for ids in id_lists])
        counts = sparse.csr_matrix(
            (np.ones(indptr[-1], dtype=np.float32), np.concatenate(id_lists), indptr),
            shape=(len(id_lists), len(self.matrix)),
        )
        vectors = np.asarray(counts @ self.matrix)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        ids = [
            np.array([self.index[w] for w in t.lower().split() if w in self.index], dtype=np.int64)
            for t in texts
        ]
        return self.embed_ids(ids).tolist()


def make_vocabulary(rng: np.random.Generator) -> list[str]:
    words: set[str] = set()
    while len(words) < CONTENT_WORDS:
        words.add("".join(rng.choice(SYLLABLES, size=rng.integers(2, 5))))
    return STOP_WORDS + sorted(words)


def zipf_sampler(vocabulary: list[str], rng: np.random.Generator, s: float = 1.07):
    weights = 1.0 / np.arange(1, len(vocabulary) + 1) ** s
    cumulative = np.cumsum(weights / weights.sum())

    def sample(n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(cumulative, rng.random(n)), len(vocabulary) - 1)

    return sample


def baseline_search(revision: str):
    """The DocsSearch class of rag/search.py at git revision `revision`, with the rag/ranking.py
    and rag/page_evidence.py of that revision (how it selects and scores is theirs); a module
    the revision does not have stays the current one."""
    repo = Path(__file__).resolve().parent.parent
    folder = Path(tempfile.mkdtemp(prefix="docsdesk-baseline-"))
    modules = {}
    for name in ("ranking", "page_evidence", "search"):
        shown = subprocess.run(
            ["git", "show", f"{revision}:rag/{name}.py"], cwd=repo, capture_output=True, text=True
        )
        if shown.returncode != 0:
            continue
        path = folder / f"{name}_baseline.py"
        path.write_text(shown.stdout, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(f"{name}_baseline", path)
        modules[name] = importlib.util.module_from_spec(spec)
        sys.modules[f"{name}_baseline"] = modules[name]
        # Its `from rag.<module> import ...` take the revision's modules loaded before it.
        current = {other: sys.modules[f"rag.{other}"] for other in modules if other != name}
        sys.modules.update({f"rag.{other}": modules[other] for other in current})
        try:
            spec.loader.exec_module(modules[name])
        finally:
            sys.modules.update({f"rag.{other}": module for other, module in current.items()})
    return modules["search"].DocsSearch


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def load_chunks(
    engine, collection: str, count: int, start: int, vocabulary, sample, embedder, rng
) -> None:
    """COPY `count` synthetic chunks (pages of ten) and their vectors into `collection`."""
    words = np.array(vocabulary)
    pages = (count + CHUNKS_PER_PAGE - 1) // CHUNKS_PER_PAGE
    async with engine.begin() as conn:
        doc_ids = (
            (
                await conn.execute(
                    text(
                        "INSERT INTO docs_documents (collection, root, source_path, page_url, title, content_hash,"
                        " bytes, chunk_count) SELECT :c, '/bench', 'p' || g || '.md', 'https://bench.test/p' || g || '/',"
                        " 'page ' || g, 'x', 0, :n FROM generate_series(CAST(:a AS int), CAST(:b AS int)) AS g ORDER BY g RETURNING id"
                    ),
                    {"c": collection, "n": CHUNKS_PER_PAGE, "a": start, "b": start + pages - 1},
                )
            )
            .scalars()
            .all()
        )
        lengths = rng.integers(60, 201, size=count)
        id_lists = [sample(int(n)) for n in lengths]
        records = []
        for i, ids in enumerate(id_lists):
            page = start + i // CHUNKS_PER_PAGE
            heading = " ".join(words[sample(3)])
            title = f"page {page}"
            records.append(
                (
                    doc_ids[i // CHUNKS_PER_PAGE],
                    collection,
                    i % CHUNKS_PER_PAGE,
                    f"https://bench.test/p{page}/#s{i}",
                    f"https://bench.test/p{page}/",
                    title,
                    [title, heading],
                    f"{title} › {heading}",
                    " ".join(words[ids]),
                    len(ids),
                    f"h{start}-{i}",
                )
            )
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.copy_records_to_table(
            "docs_chunks",
            records=records,
            columns=[
                "document_id",
                "collection",
                "ordinal",
                "url",
                "page_url",
                "page_title",
                "heading_path",
                "heading_text",
                "text",
                "token_count",
                "content_hash",
            ],
        )
        chunk_ids = (
            (
                await conn.execute(
                    text(
                        "SELECT c.id FROM docs_chunks c JOIN docs_documents d ON d.id = c.document_id"
                        " WHERE d.id = ANY(:d) ORDER BY c.id"
                    ),
                    {"d": list(doc_ids)},
                )
            )
            .scalars()
            .all()
        )
        vectors = embedder.embed_ids(id_lists)
        await register_vector(raw)
        await raw.copy_records_to_table(
            "docs_embeddings",
            records=[(cid, collection, DIMS, v) for cid, v in zip(chunk_ids, vectors)],
            columns=["chunk_id", "collection", "dims", "embedding"],
        )


async def measure(searches: list, queries: list[str], collection: str) -> list[tuple[float, float]]:
    """(p50, p95) of each search, the searches interleaved query by query (their order rotated),
    so that load from other processes on a shared machine hits them alike."""
    for query in queries[:20]:  # warm-up
        for search in searches:
            await search.search(query, k=5, collection=collection)
    timings: list[list[float]] = [[] for _ in searches]
    for n, query in enumerate(queries[20:]):
        for i in [(n + j) % len(searches) for j in range(len(searches))]:
            started = time.perf_counter()
            await searches[i].search(query, k=5, collection=collection)
            timings[i].append((time.perf_counter() - started) * 1000)
    return [(percentile(t, 50), percentile(t, 95)) for t in timings]


async def vector_plan(engine, collection: str, embedder, query: str) -> str:
    """The plan line showing how the hybrid search's vector query reaches its rows."""
    [vector] = await embedder.embed([query])
    scoped = SearchQuery.of(query, collection=collection)
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        plan = (
            (
                await conn.execute(
                    scoped.statement("EXPLAIN " + nearest_sql(DIMS, scoped.scope("e.collection"))),
                    {"vector": schema.vector_literal(vector), "depth": 50, **scoped.binds},
                )
            )
            .scalars()
            .all()
        )
    return next((line.strip() for line in plan if "docs_embeddings" in line), plan[0].strip())


def write_markdown(folder: Path, files: int, vocabulary: list[str], sample, rng) -> int:
    """Generated pages: a title, sections with paragraphs and a code block. Returns bytes."""
    words = np.array(vocabulary)
    total = 0
    for n in range(files):
        parts = [f"# {' '.join(words[sample(3)]).capitalize()}\n"]
        for s in range(int(rng.integers(4, 9))):
            parts.append(f"\n## {' '.join(words[sample(4)]).capitalize()} {s}\n")
            for _ in range(int(rng.integers(2, 5))):
                parts.append("\n" + " ".join(words[sample(int(rng.integers(40, 120)))]).capitalize() + ".\n")
            if s % 2 == 0:
                parts.append(
                    f"\n```python\n{words[sample(1)][0]} = call_{s}({n}, retries=3)\nprint({words[sample(1)][0]!r})\n```\n"
                )
        path = folder / f"section-{n % 10}" / f"page-{n}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(parts).encode()
        path.write_bytes(data)
        total += len(data)
    return total


async def add_reader_terms(engine, collection: str, vocabulary: list[str], count: int) -> None:
    """`count` rows for `collection`: a frequent content word -> two rarer ones."""
    from rag.reader_terms import checked_term, import_terms

    words = vocabulary[len(STOP_WORDS) :]
    rows = {}  # one row a phrase (two made-up words may share a stem)
    for i in range(len(words)):
        row = checked_term(words[i], [words[-1 - 2 * i], words[-2 - 2 * i]])
        rows.setdefault(row.key, row)
        if len(rows) == count:
            break
    await import_terms(engine, collection, list(rows.values()))


async def run(scales: list[int], n_queries: int, baseline: str | None, reader_terms: int = 0) -> None:
    old_search = baseline_search(baseline) if baseline else None
    rng = np.random.default_rng(42)
    vocabulary = make_vocabulary(rng)
    sample = zipf_sampler(vocabulary, rng)
    embedder = RandomProjectionEmbedder(vocabulary)
    queries = [
        " ".join(vocabulary[i] for i in sample(int(rng.integers(2, 7)))) for _ in range(n_queries + 20)
    ]
    # Load average at the start: the machine may be shared, and the figures noisy.
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    tmp = Path(tempfile.mkdtemp(prefix="docsdesk-bench-"))
    settings = Settings(
        _env_file=None,
        data_dir=tmp / "data",
        database_url=os.environ.get("DATABASE_URL"),
        db_statement_timeout_ms=600_000,  # bulk loads and index builds
    )
    db = await open_database(settings)
    engine = db.engine
    collection = f"bench-scale-{os.getpid()}"
    print(f"database: {'DATABASE_URL' if settings.database_url else 'embedded in ' + str(tmp)}")
    print(f"embedder for hybrid: {embedder.name} (deterministic random projection, {DIMS} dims)")
    try:
        docs = tmp / "markdown"
        size = write_markdown(docs, 400, vocabulary, sample, rng)
        ingest_collection = f"bench-ingest-{os.getpid()}"
        first = await ingest(engine, [docs], base_url="https://bench.test/", collection=ingest_collection)
        again = await ingest(engine, [docs], base_url="https://bench.test/", collection=ingest_collection)
        print(
            f"ingest (full-text only): {first.added} files, {size / 1e6:.1f} MB, {first.chunks} chunks in"
            f" {first.seconds:.2f} s = {first.mb_per_second:.2f} MB/s;"
            f" unchanged re-run {again.seconds:.3f} s ({again.unchanged} unchanged)",
            flush=True,
        )

        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO docs_collections (name, embedder, dimensions) VALUES (:c, :e, :d)"),
                {"c": collection, "e": embedder.name, "d": DIMS},
            )
        if reader_terms:
            await add_reader_terms(engine, collection, vocabulary, reader_terms)
            print(f"reader terms of the collection: {reader_terms}")
        columns = f"{'chunks':>8} {'load s':>7} | {'FTS p50':>8} {'FTS p95':>8} | {'hybrid p50':>10} {'hybrid p95':>10}"
        if old_search is not None:
            columns += f" | {'old FTS p50':>11} {'p95':>6} | {'old hyb p50':>11} {'p95':>6} | p95 new/old FTS, hybrid"
        print(columns + "  (ms)")
        loaded = 0
        for scale in scales:
            started = time.perf_counter()
            if db.embedded is not None:  # our own database: build the HNSW index after the load
                async with engine.begin() as conn:
                    await conn.execute(text(f"DROP INDEX IF EXISTS docs_embeddings_hnsw_{DIMS}"))
            await load_chunks(
                engine,
                collection,
                scale - loaded,
                loaded // CHUNKS_PER_PAGE,
                vocabulary,
                sample,
                embedder,
                rng,
            )
            loaded = scale
            async with engine.begin() as conn:
                await conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
                await schema.ensure_vector_index(conn, DIMS)
                await schema.compact_lexeme_counts(conn, collection)  # as ingest does after a run
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in ("docs_chunks", "docs_embeddings", "docs_lexemes"):
                    await conn.execute(text(f"VACUUM ANALYZE {table}"))
            load_seconds = time.perf_counter() - started
            searches = [DocsSearch(engine), DocsSearch(engine, embedder)]
            if old_search is not None:
                searches += [old_search(engine), old_search(engine, embedder)]
            measured = await measure(searches, queries, collection)
            fts, hybrid = measured[:2]
            line = f"{scale:>8} {load_seconds:>7.1f} | {fts[0]:>8.1f} {fts[1]:>8.1f} | {hybrid[0]:>10.1f} {hybrid[1]:>10.1f}"
            if old_search is not None:
                old_fts, old_hybrid = measured[2:]
                line += (
                    f" | {old_fts[0]:>11.1f} {old_fts[1]:>6.1f} | {old_hybrid[0]:>11.1f} {old_hybrid[1]:>6.1f}"
                    f" | {fts[1] / old_fts[1]:.2f}x, {hybrid[1] / old_hybrid[1]:.2f}x"
                )
            print(line, flush=True)
        print(
            f"vector query plan at {loaded} chunks: {await vector_plan(engine, collection, embedder, queries[0])}"
        )
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM docs_collections WHERE name LIKE :p"), {"p": f"bench-%-{os.getpid()}"}
            )
        await db.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline", metavar="REV", help="also measure rag/search.py at this git revision")
    parser.add_argument("--reader-terms", type=int, default=0, metavar="N", help="the collection's own rows")
    args = parser.parse_args()
    scales = sorted(int(s) for s in args.scales.split(","))
    started = time.perf_counter()
    asyncio.run(run(scales, args.queries, args.baseline, args.reader_terms))
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
