"""Embedder candidates side by side: ingest time, query latency and search quality.

Starts an embedded PostgreSQL in a temporary directory (or DATABASE_URL), and for each
configuration (full text only, then each embedder that can be loaded here) ingests the two
shared corpora (timed together: the ingest figure) and any third-party corpus of the
reader-voice sets, evaluates every question set, then times each query of every set with the
configurations interleaved (so that load from other processes hits them alike): p50 and p95.

Question sets: bench/questions/FAMILY-COLLECTION.tsv, asked in COLLECTION: a shared corpus
(chatkit, agents) or a vendored third-party one, bench/corpora/NAME/docs (base URL in its
SOURCE.md). Out-of-scope questions are not counted in recall. `--sets` picks families (e.g.
`dev,dev-reader` to choose a model without looking at held-out sets). Held-out sets are printed
as aggregates only; `--verbose` lists misses of the other sets.

    python bench/embedders.py [--configs fts,m2v,NAME=SPEC,...] [--sets dev,dev-reader]
                              [--json out.json] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._doc_sets import CORPUS, DOC_SETS, QUESTIONS, third_party_sets  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.embeddings import DEFAULT_EMBEDDINGS, build_embedder  # noqa: E402
from rag.evaluate import Report, evaluate, load_questions  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.search import DocsSearch  # noqa: E402

SHARED = {c: (CORPUS / folder, base) for c, (folder, base) in DOC_SETS.items()}  # collection -> (folder, URL)
CONFIGS = {
    "fts": "none",
    "m2v": DEFAULT_EMBEDDINGS,  # the default: shipped in rag/models/
    "tokenlearn": "model2vec:{static}",  # the 64-dimension model of tokenlearn-static-model
    "onnx": "onnx:all-MiniLM-L6-v2",
    "st": "sentence-transformers:all-MiniLM-L6-v2",
}


@dataclass
class Run:
    name: str
    spec: str
    embedder: object = None
    load_seconds: float = 0.0
    ingest_seconds: float = 0.0
    chunks: int = 0
    reports: dict[str, Report] = field(default_factory=dict)  # set file stem -> report
    latencies: list[float] = field(default_factory=list)  # ms per search
    embed_ms: list[float] = field(default_factory=list)  # ms to embed one query


def static_model_dir() -> str:
    try:
        import static_model  # tokenlearn-static-model: a Model2Vec model shipped in a wheel
    except ImportError:
        return "(tokenlearn-static-model not installed)"
    return str(Path(static_model.__file__).parent / "model")


def family(name: str) -> str:
    """A set's family: dev, heldout, dev-reader, heldout-reader, ..."""
    return name.split("-reader-")[0] + "-reader" if "-reader-" in name else name.rsplit("-", 1)[0]


def question_sets(families: set[str] | None) -> dict[str, tuple[str, list]]:
    """set name -> (collection, cases), for the chosen families (None: all)."""
    sets = {}
    for path in sorted(QUESTIONS.glob("*.tsv")):
        collection = (
            path.stem.split("-reader-", 1)[1] if "-reader-" in path.stem else path.stem.rsplit("-", 1)[1]
        )
        if families is None or family(path.stem) in families:
            sets[path.stem] = (collection, load_questions(path))
    return sets


async def prepare(run: Run, settings: Settings) -> str | None:
    """Build and load the run's embedder; the reason it is unavailable, if it is."""
    try:
        run.embedder = build_embedder(run.spec, settings)
        started = time.perf_counter()
        if run.embedder is not None:
            await run.embedder.embed(["warm-up"])
        run.load_seconds = time.perf_counter() - started
    except Exception as exc:  # noqa: BLE001 - any load failure means "not measured here"
        return f"{type(exc).__name__}: {exc}"
    return None


async def ingest_all(engine, run: Run, extra: dict[str, tuple[Path, str]]) -> None:
    started = time.perf_counter()
    for collection, (folder, base_url) in SHARED.items():
        summary = await ingest(
            engine, [folder], base_url=base_url, collection=f"{run.name}-{collection}",
            url_style="mkdocs", embedder=run.embedder,
        )  # fmt: skip
        run.chunks += summary.chunks
    run.ingest_seconds = time.perf_counter() - started
    for collection, (folder, base_url) in extra.items():
        await ingest(
            engine, [folder], base_url=base_url, collection=f"{run.name}-{collection}",
            url_style="mkdocs", embedder=run.embedder,
        )  # fmt: skip


async def time_queries(searches: dict[str, DocsSearch], runs: list[Run], sets: dict) -> None:
    for collection, cases in sets.values():
        for case in cases:
            if case.out_of_scope:
                continue
            for run in runs:
                started = time.perf_counter()
                await searches[run.name].search(case.question, k=5, collection=f"{run.name}-{collection}")
                run.latencies.append(1000 * (time.perf_counter() - started))
                if run.embedder is not None:
                    started = time.perf_counter()
                    await run.embedder.embed([case.question])
                    run.embed_ms.append(1000 * (time.perf_counter() - started))


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) > 1 else 0.0


def aggregate(reports: list[Report]) -> Report:
    out = Report()
    for report in reports:
        out.outcomes.extend(report.outcomes)
    return out


def groups(sets: dict) -> dict[str, list[str]]:
    """Printed rows: each family of sets (project, dev, heldout, heldout2, dev-reader, ...)."""
    out: dict[str, list[str]] = {}
    for name in sets:
        out.setdefault(family(name), []).append(name)
    return out


def summary(runs: list[Run], sets: dict, verbose: bool) -> dict:
    table: dict = {}
    print(
        f"\n{'config':<7} {'load s':>7} {'ingest s':>9} {'x fts':>6} {'p50 ms':>7} {'p95 ms':>7}"
        f" {'embed p50':>9} {'embed p95':>9}"
    )
    base = runs[0]
    for run in runs:
        print(
            f"{run.name:<7} {run.load_seconds:>7.2f} {run.ingest_seconds:>9.1f} "
            f"{run.ingest_seconds / base.ingest_seconds:>6.2f} {statistics.median(run.latencies):>7.1f} "
            f"{p95(run.latencies):>7.1f} {statistics.median(run.embed_ms or [0]):>9.2f}"
            f" {p95(run.embed_ms):>9.2f}"
        )
        table[run.name] = {
            "spec": run.spec, "load_s": run.load_seconds, "ingest_s": run.ingest_seconds,
            "chunks": run.chunks, "p50_ms": statistics.median(run.latencies),
            "p95_ms": p95(run.latencies), "embed_p95_ms": p95(run.embed_ms), "sets": {},
        }  # fmt: skip
    print(f"\n{'sets':<16} {'n':>4} " + " ".join(f"{r.name + ' r@1/r@5/MRR':>22}" for r in runs))
    for family, names in groups(sets).items():
        covered = sum(1 for n in names for case in sets[n][1] if not case.out_of_scope)
        line = f"{family:<16} {covered:>4} "
        for run in runs:
            report = aggregate([run.reports[n] for n in names])
            figures = (report.recall_at_1, report.recall_at_k, report.mrr)
            table[run.name]["sets"][family] = figures
            line += "  {:.3f}/{:.3f}/{:.3f}".format(*figures).rjust(22) + " "
        print(line)
    if verbose:
        for run in runs:
            for name, report in run.reports.items():
                if not name.startswith("heldout"):  # never look at which held-out questions miss
                    print(f"\n== {name} {run.name}\n" + "\n".join(report.lines()[1:]))
    return table


async def main(args: argparse.Namespace) -> None:
    sets = question_sets(set(args.sets.split(",")) if args.sets else None)
    extra = {c: v for c, v in third_party_sets().items() if any(coll == c for coll, _ in sets.values())}
    print(f"sets: {', '.join(sets)}; third-party corpora: {', '.join(extra) or 'none'}")
    runs: list[Run] = []
    searches: dict[str, DocsSearch] = {}
    with tempfile.TemporaryDirectory(prefix="docsdesk-embedders-") as data_dir:
        databases = []  # one database per configuration: no HNSW index shared between them
        try:
            for item in args.configs.split(","):
                name, _, spec = item.partition("=")  # NAME, or NAME=SPEC for any embedder
                settings = Settings(
                    _env_file=None,
                    data_dir=Path(data_dir) / name,
                    database_url=os.environ.get("DATABASE_URL"),
                )
                run = Run(name, spec or CONFIGS[name].format(static=static_model_dir()))
                reason = await prepare(run, settings)
                if reason:
                    print(f"{name} skipped: {reason}")
                    continue
                databases.append(await open_database(settings))
                print(f"{name}: ingesting ...", flush=True)
                await ingest_all(databases[-1].engine, run, extra)
                searches[name] = DocsSearch(databases[-1].engine, run.embedder)
                for set_name, (collection, cases) in sets.items():
                    run.reports[set_name] = await evaluate(searches[name], cases, f"{name}-{collection}")
                runs.append(run)
            await time_queries(searches, runs, sets)
        finally:
            for database in databases:
                await database.close()
    table = summary(runs, sets, args.verbose)
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"of {', '.join(CONFIGS)}")
    parser.add_argument("--sets", default="", help="families of sets, e.g. dev,dev-reader (default: all)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--verbose", action="store_true", help="list the misses of non-held-out sets")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
