"""Ranking rules for the "neighbouring page's section wins" misses: measure a rule on the dev
sets before putting it in `rag/`, and describe each miss (what the chunk ranked first has that
the expected page's best chunk lacks).

Ingests the doc sets once per configuration (full text, hybrid with the default embedder),
then evaluates each variant (`NAME:P1:P2...`), as search is plus one change:

- `cap:X`, `pow:X`: each lexeme's idf capped at X, or raised to the power X.
- `eng:T:F`: the idf of the stems of everyday English words (whole words of the static model's
  vocabulary whose vector is shorter than T: model2vec weighs frequent tokens down) times F.
- `burst:F:R:N`: the idf of a lexeme in at least N chunks of the scope, nearly all on different
  pages (pages / chunks at least R: a word pages mention in passing), times F;
  `burst:F:R:N:T`: only everyday English words among them (as `eng:T`).
- `lnorm:X`: the full-text length norm X instead of `rag.ranking.LENGTH_NORM`.
- `second:W`: each page's chunks gain W x the page's second-best chunk's score.
- `hplain:T`: the everyday English words whose heading weighs as text (`rag.ranking.everyday_words`)
  are those of `eng:T` (`hplain:0`: none, search as it was before that rule).
- `depth:X`: each chunk's score times 1 - X per heading level below its page title.
- `hpage:W`: each of the ten best pages gains W x the idf of the query's lexemes its title
  and headings hold (relative to the best page's).
- `near:W:S`, `nearh:W:S`: the 30 best chunks gain W x the idf of the distinct query lexemes
  within S positions of one another (relative to the best chunk's; `nearh`: a lexeme of the
  headings counts in every window).

The last four act on the chunk scores after the page evidence (`rag.page_evidence`).

    python bench/rank_variants.py --sets dev,dev-reader,dev4-reader,dev6-reader \
        --variants none,... [--only fts|hybrid] [--describe]

Held-out sets (`heldout*`) are refused.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine  # noqa: E402

import rag.ranking  # noqa: E402
import rag.search  # noqa: E402
from bench._doc_sets import QUESTIONS, all_doc_sets, ingest_doc_sets  # noqa: E402
from bench.everyday_words import everyday_stems  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.embeddings import DEFAULT_EMBEDDINGS, build_embedder  # noqa: E402
from rag.evaluate import Report, evaluate, load_questions, matches  # noqa: E402
from rag.page_evidence import add_page_evidence, best_pages  # noqa: E402
from rag.ranking import LENGTH_NORM, FullTextPlan, LexemeStats  # noqa: E402
from rag.search import DocsSearch  # noqa: E402

Variant = Callable[[AsyncConnection, dict[int, float], dict[int, str], FullTextPlan, dict[int, float]], Any]
VARIANTS: dict[str, Variant] = {}
CAPTURE: list[dict[str, Any]] = []  # the last query's scores (for --describe)


def variant(name: str) -> Callable[[Variant], Variant]:
    def register(fn: Variant) -> Variant:
        VARIANTS[name] = fn
        return fn

    return register


@variant("none")
async def unchanged(conn, scores, pages, plan, fused, *params):
    return scores


_IDF = LexemeStats.idf
_COMMON: dict[float, frozenset[str]] = {}


def common_english(threshold: float) -> frozenset[str]:
    """Stems of the whole words of the static model's vocabulary whose vector is short (model2vec
    weighs frequent English tokens down): the reader's everyday words ("still", "many", "first")."""
    if threshold not in _COMMON:
        _COMMON[threshold] = frozenset(everyday_stems(threshold))
    return _COMMON[threshold]


def idf_rule(name: str, params: list[float]) -> Callable[[LexemeStats, str], float]:
    """The lexemes' idf under a variant: capped (`cap:X`), compressed (`pow:X`), or as is."""

    def idf(stats: LexemeStats, lexeme: str) -> float:
        value = _IDF(stats, lexeme)
        if name == "cap":
            return min(value, params[0])
        if name == "pow":
            return value ** params[0]
        if name == "eng" and lexeme in common_english(params[0]):
            return value * params[1]
        return value

    return idf


@variant("second")
async def second_section(conn, scores, pages, plan, fused, weight):
    """Each page's chunks gain `weight` x the page's second-best chunk's score."""
    by_page: dict[str, list[float]] = {}
    for cid, s in scores.items():
        by_page.setdefault(pages[cid], []).append(s)
    second = {p: sorted(v, reverse=True)[1] if len(v) > 1 else 0.0 for p, v in by_page.items()}
    return {cid: (s + weight * second[pages[cid]]) / (1 + weight) for cid, s in scores.items()}


@variant("hpage")
async def heading_pages(conn, scores, pages, plan, fused, weight):
    """Each of the ten best pages gains `weight` x its title and headings' evidence (the
    query's lexemes its headings hold, idf-weighted, once each), relative to the best page's."""
    best = best_pages(scores, pages)
    counts = ", ".join(
        f"bool_or(c.heading_tsv @@ CAST(:term{i} AS tsquery))::int AS t{i}" for i in range(len(plan.terms))
    )
    rows = (
        await conn.execute(
            text(
                f"SELECT c.page_url, {counts} FROM docs_chunks c WHERE c.page_url = ANY(:pages) GROUP BY c.page_url"
            ),
            {"pages": list(best), **{f"term{i}": t for i, t in enumerate(plan.terms)}},
        )
    ).all()
    evidence = {row[0]: sum(w * h for w, h in zip(plan.idf, row[1:], strict=True)) for row in rows}
    top = max(evidence.values(), default=0.0) or 1.0
    return {
        cid: (s + weight * evidence.get(pages[cid], 0.0) / top) / (1 + weight) for cid, s in scores.items()
    }


@variant("near")
@variant("nearh")
async def nearness(conn, scores, pages, plan, fused, weight, window, top=30, headings=0):
    """The `top` best chunks gain `weight` x their best window's evidence: the idf of the distinct
    query lexemes within `window` positions of one another (relative to the best chunk's)."""
    ids = sorted(scores, key=lambda c: -scores[c])[: int(top)]
    idf = {t.strip("'"): w for t, w in zip(plan.terms, plan.idf, strict=True)}
    rows = (
        await conn.execute(
            text(
                "SELECT c.id, u.lexeme, u.positions, 'A' = ANY(u.weights) AS head FROM docs_chunks c, unnest(c.tsv) u"
                " WHERE c.id = ANY(:ids) AND u.lexeme = ANY(:lexemes)"
            ),
            {"ids": ids, "lexemes": list(idf)},
        )
    ).all()
    hits: dict[int, list[tuple[int, str]]] = {}
    always: dict[int, set[str]] = {}
    for cid, lexeme, positions, head in rows:
        if headings and head:
            always.setdefault(cid, set()).add(lexeme)
        hits.setdefault(cid, []).extend((p, lexeme) for p in positions or ())
    best: dict[int, float] = {}
    for cid, found in hits.items():
        found.sort()
        top_sum = 0.0
        for i, (start, _) in enumerate(found):
            inside = {lex for pos, lex in found[i:] if pos - start <= window} | always.get(cid, set())
            top_sum = max(top_sum, sum(idf[lex] for lex in inside))
        best[cid] = top_sum
    high = max(best.values(), default=0.0) or 1.0
    return {cid: (s + weight * best.get(cid, 0.0) / high) / (1 + weight) for cid, s in scores.items()}


@variant("depth")
async def shallow(conn, scores, pages, plan, fused, step):
    """Each chunk's score times 1 - `step` per heading level below the page title."""
    rows = (
        await conn.execute(
            text("SELECT id, cardinality(heading_path) AS depth FROM docs_chunks WHERE id = ANY(:ids)"),
            {"ids": list(scores)},
        )
    ).all()
    depth = {r.id: max(1, r.depth) for r in rows}
    return {cid: s * (1 - step * (depth.get(cid, 1) - 1)) for cid, s in scores.items()}


_EVERYDAY = rag.search.everyday_words


_PLAN = DocsSearch._plan
BURST_LOG: list[tuple[str, int, int]] = []


def burst_plan(factor: float, ratio: float, least: float, english: float = 0.0) -> Callable[..., Any]:
    """`DocsSearch._plan` with the idf of each lexeme whose chunks (at least `least`) are
    nearly all on different pages (pages / chunks at least `ratio`) multiplied by `factor`:
    a word a page mentions in passing, not a topic any page is about."""

    async def plan(self: DocsSearch, conn: AsyncConnection, query: Any) -> FullTextPlan:
        planned = await _PLAN(self, conn, query)
        if not planned.terms:
            return planned
        lexemes = [t.strip("'") for t in planned.terms]
        statement = query.statement(
            "SELECT u.lexeme, count(*) AS chunks, count(DISTINCT c.page_url) AS pages"
            " FROM docs_chunks c, unnest(c.tsv) u WHERE u.lexeme = ANY(:lexemes) "
            + query.scope("c.collection")
            + " GROUP BY u.lexeme"
        )
        rows = (await conn.execute(statement, {"lexemes": lexemes, **query.binds})).all()
        spread = {r.lexeme: (r.chunks, r.pages) for r in rows}
        BURST_LOG.extend((lex, *spread.get(lex, (0, 0))) for lex in lexemes)
        idf = tuple(
            w * factor
            if spread.get(lex, (0, 0))[0] >= least
            and spread[lex][1] >= ratio * spread[lex][0]
            and (not english or lex in common_english(english))
            else w
            for lex, w in zip(lexemes, planned.idf, strict=True)
        )
        return dataclasses.replace(planned, idf=idf)

    return plan


def patched(name: str) -> Callable[..., Any]:
    chosen = VARIANTS.get(name.split(":")[0], unchanged)
    params = [float(p) for p in name.split(":")[1:]]
    if name.startswith("nearh"):
        params = [*params, 30, 1]
    DocsSearch._plan = burst_plan(*params) if name.startswith("burst") else _PLAN  # type: ignore[method-assign]
    rag.search.everyday_words = (
        (lambda: common_english(params[0])) if name.startswith("hplain") else _EVERYDAY
    )
    LexemeStats.idf = idf_rule(name.split(":")[0], params)  # type: ignore[method-assign]
    rag.ranking.LENGTH_NORM = params[0] if name.startswith("lnorm") else LENGTH_NORM

    async def hooked(
        conn: AsyncConnection, fused: dict[int, float], pages: dict[int, str], plan: FullTextPlan
    ):
        scores = await add_page_evidence(conn, fused, pages, plan)
        out = await chosen(conn, scores, pages, plan, fused, *params)
        CAPTURE.clear()
        CAPTURE.append({"fused": fused, "scores": out, "pages": pages, "plan": plan})
        return out

    return hooked


async def ingest_all(engine: AsyncEngine, prefix: str, embedder: Any) -> dict[str, tuple[Path, str]]:
    await ingest_doc_sets(engine, prefix, embedder)
    return all_doc_sets()


async def describe(engine: AsyncEngine, search: DocsSearch, case: Any, collection: str) -> None:
    """For a question whose expected page is not first: the first chunk and the expected page's
    best chunk, their scores, headings, and the query lexemes each holds (H heading, T text)."""
    results = await search.search(case.question, k=5, collection=collection)
    urls = [r.url for r in results]
    if not urls or any(matches(urls[0], e) for e in case.expected):
        return
    cap = CAPTURE[0]
    scores, pages, plan, fused = cap["scores"], cap["pages"], cap["plan"], cap["fused"]
    ranked = sorted(scores, key=lambda c: -scores[c])
    top = ranked[0]
    exp = next((c for c in ranked if any(matches(pages[c], e) for e in case.expected)), None)
    print(f"\nQ: {case.question}")
    ids = [top] + ([exp] if exp else [])
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT id, url, page_title, heading_path, length(tsv) AS n, token_count,"
                    " position('```' in text) > 0 AS code FROM docs_chunks WHERE id = ANY(:ids)"
                ),
                {"ids": ids},
            )
        ).all()
        info = {r.id: r for r in rows}
        for cid in ids:
            held = []
            for term, idf in zip(plan.terms, plan.idf, strict=True):
                h = (
                    await conn.execute(
                        text(
                            "SELECT heading_tsv @@ CAST(:t AS tsquery), tsv @@ CAST(:t AS tsquery)"
                            " FROM docs_chunks WHERE id = :id"
                        ),
                        {"t": term, "id": cid},
                    )
                ).one()
                if h[0] or h[1]:
                    held.append(f"{term.strip(chr(39))}{'H' if h[0] else 'T'}{idf:.1f}")
            r = info[cid]
            tag = "TOP" if cid == top else f"EXP#{ranked.index(cid) + 1}"
            print(
                f"  {tag} {r.url.split('/', 3)[-1]} fused={fused.get(cid, 0):.3f} final={scores[cid]:.3f}"
                f" lex={r.n} tok={r.token_count} code={r.code} head={'>'.join(r.heading_path)}"
            )
            print(f"      {' '.join(held)}")


async def main(args: argparse.Namespace) -> None:
    sets = [s for s in args.sets.split(",") if s]
    if any(s.startswith("heldout") for s in sets):
        raise SystemExit("held-out sets are not for tuning")
    configs = ["fts", "hybrid"] if args.only is None else [args.only]
    variants = [v for v in args.variants.split(",") if v]
    results: dict[tuple[str, str, str], Report] = {}
    with tempfile.TemporaryDirectory(prefix="docsdesk-variants-") as data_dir:
        settings = Settings(
            _env_file=None, data_dir=Path(data_dir), database_url=os.environ.get("DATABASE_URL")
        )
        database = await open_database(settings)
        try:
            for config in configs:
                embedder = build_embedder(DEFAULT_EMBEDDINGS, settings) if config == "hybrid" else None
                prefix = f"v-{config}-"
                doc_sets = await ingest_all(database.engine, prefix, embedder)
                search = DocsSearch(database.engine, embedder)
                await search.startup()
                for name in variants:
                    rag.search.add_page_evidence = patched(name)
                    for set_name in sets:
                        merged = Report()
                        for collection in doc_sets:
                            path = QUESTIONS / f"{set_name}-{collection}.tsv"
                            if not path.exists():
                                continue
                            cases = load_questions(path)
                            if args.describe:
                                print(f"\n== {set_name} {config} {collection} {name}")
                                for case in cases:
                                    if not case.out_of_scope:
                                        await describe(database.engine, search, case, prefix + collection)
                                continue
                            report = await evaluate(search, cases, prefix + collection)
                            merged.outcomes.extend(report.outcomes)
                        results[(set_name, config, name)] = merged
        finally:
            await database.close()
    if args.burst:
        for lex, chunks, pages in sorted(set(BURST_LOG)):
            print(f"{lex} {chunks} {pages}")
    if args.describe:
        return
    print(f"{'variant':<24}" + "".join(f"{s + ' ' + c:>26}" for c in configs for s in sets))
    for name in variants:
        cells = []
        for config in configs:
            for set_name in sets:
                r = results[(set_name, config, name)]
                base = results[(set_name, config, variants[0])]
                d1 = round((r.recall_at_1 - base.recall_at_1) * len(r.covered))
                d5 = round((r.recall_at_k - base.recall_at_k) * len(r.covered))
                cells.append(f"{r.recall_at_1:.3f}/{r.recall_at_k:.3f} {d1:+d}{d5:+d}")
        print(f"{name:<24}" + "".join(f"{c:>26}" for c in cells))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="dev,dev-reader,dev4-reader,dev6-reader")
    parser.add_argument("--variants", default="none")
    parser.add_argument("--only", choices=["fts", "hybrid"])
    parser.add_argument("--describe", action="store_true")
    parser.add_argument("--burst", action="store_true", help="print the lexemes' chunks and pages")
    asyncio.run(main(parser.parse_args()))
