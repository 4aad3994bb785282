"""Search-quality benchmark: recall@1, recall@5 and MRR of DocsSearch over the shared corpus.

Starts a database (DATABASE_URL, or an embedded PostgreSQL in a temporary directory),
ingests both doc sets, and evaluates the question sets under bench/questions/ with the
same implementation as `docsdesk eval` (rag/evaluate.py): NAME-chatkit.tsv and
NAME-agents.tsv are asked in the collection of that doc set.

Sets: `project` (the questions the ranking was first developed against), `dev` (written later
by someone who saw neither the code nor the results; tuning on it is allowed), and `heldout`
and `heldout2` (each written the same way, from the corpus alone; never tune against them,
only report them).
Configurations: full-text only (no embedder) and hybrid with the default embedder (the shipped
static model, `rag.embeddings.DEFAULT_EMBEDDINGS`; `--embedder SPEC` for another).

    python bench/search_quality.py [--only fts|hybrid] [--sets project,dev,heldout,heldout2] [--embedder SPEC] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from bench._doc_sets import CORPUS, DOC_SETS, QUESTIONS, all_doc_sets, ingest_doc_sets  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.embeddings import DEFAULT_EMBEDDINGS, Embedder, build_embedder  # noqa: E402
from rag.evaluate import Report, evaluate, load_questions  # noqa: E402
from rag.search import DocsSearch  # noqa: E402

TARGETS = {  # (set, config) -> (recall@1, recall@5)
    ("heldout", "fts"): (0.75, 0.95),
    ("heldout2", "fts"): (0.75, 0.95),
    ("heldout-reader", "fts"): (0.85, 0.97),
    ("heldout-reader", "hybrid"): (0.85, 0.97),
    ("heldout3-reader", "fts"): (0.85, 0.97),
    ("heldout3-reader", "hybrid"): (0.85, 0.97),
    ("heldout4-reader", "fts"): (0.85, 0.97),
    ("heldout4-reader", "hybrid"): (0.85, 0.97),
    ("heldout5-reader", "fts"): (0.85, 0.97),
    ("heldout5-reader", "hybrid"): (0.85, 0.97),
    ("heldout6-reader", "fts"): (0.85, 0.97),
    ("heldout6-reader", "hybrid"): (0.85, 0.97),
    ("heldout7-reader", "fts"): (0.85, 0.97),
    ("heldout7-reader", "hybrid"): (0.85, 0.97),
}


@dataclass
class ConfigRun:
    name: str
    ingest_seconds: float = 0.0
    chunks: int = 0
    reports: dict[tuple[str, str], Report] = field(default_factory=dict)  # (set, collection)
    latencies: list[float] = field(default_factory=list)


def merged(reports: list[Report]) -> Report:
    out = Report()
    for report in reports:
        out.outcomes.extend(report.outcomes)
    return out


async def run_config(engine: AsyncEngine, run: ConfigRun, sets: list[str], corpus: Path, embedder) -> None:
    """Ingest both doc sets into this configuration's collections, then evaluate each set."""
    prefix = f"quality-{run.name}-"
    started = time.perf_counter()
    run.chunks += await ingest_doc_sets(engine, prefix, embedder, corpus)
    run.ingest_seconds = time.perf_counter() - started
    search = DocsSearch(engine, embedder)
    await search.startup()
    for set_name in sets:
        for collection in all_doc_sets(corpus):
            path = QUESTIONS / f"{set_name}-{collection}.tsv"
            if not path.exists():
                continue
            cases = load_questions(path)
            started = time.perf_counter()
            run.reports[(set_name, collection)] = await evaluate(search, cases, prefix + collection)
            run.latencies.append((time.perf_counter() - started) / len(cases))


def print_runs(runs: list[ConfigRun], sets: list[str], verbose: bool) -> None:
    print()
    header = f"{'set':<15} {'config':<7} {'collection':<10} {'n':>4} {'recall@1':>9} {'recall@5':>9} {'MRR':>6}  target"
    print(header)
    print("-" * len(header))
    for set_name in sets:
        for run in runs:
            parts = [(c, r) for (s, c), r in run.reports.items() if s == set_name]
            if not parts:
                continue
            for label, report in [("all", merged([r for _, r in parts])), *parts]:
                target = ""
                goal = TARGETS.get((set_name, run.name))
                if label == "all" and goal:
                    ok = report.recall_at_1 >= goal[0] and report.recall_at_k >= goal[1]
                    target = f"r@1 >= {goal[0]:.2f}, r@5 >= {goal[1]:.2f}: {'ok' if ok else 'BELOW TARGET'}"
                print(
                    f"{set_name:<15} {run.name:<7} {label:<10} {len(report.outcomes):>4} "
                    f"{report.recall_at_1:>9.3f} {report.recall_at_k:>9.3f} {report.mrr:>6.3f}  {target}"
                )
    print()
    for run in runs:
        print(
            f"{run.name}: ingest wrote {run.chunks} chunks in {run.ingest_seconds:.1f}s; "
            f"mean search {1000 * statistics.mean(run.latencies or [0]):.1f} ms"
        )
    if verbose:
        for run in runs:
            for (set_name, collection), report in run.reports.items():
                print(f"\n== {set_name} {run.name} {collection}")
                print("\n".join(report.lines()[1:]))


async def hybrid_embedder(settings: Settings, spec: str) -> tuple[Embedder | None, str]:
    """The embedder `spec` names, loaded and tried once, or None and the reason it is unavailable."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        embedder = build_embedder(spec, settings)
        if embedder is not None:
            await embedder.embed(["warm-up"])
    except Exception as exc:  # noqa: BLE001 - any load failure means "no hybrid run"
        return None, f"cannot load {spec}: {type(exc).__name__}: {exc}"
    if embedder is None:
        return None, f"build_embedder({spec!r}) returned no embedder"
    return embedder, ""


async def main(args: argparse.Namespace) -> None:
    missing = [folder for folder, _ in DOC_SETS.values() if not (args.corpus / folder).is_dir()]
    if missing:
        raise SystemExit(f"corpus folders not found under {args.corpus}: {', '.join(missing)}")
    configs = ["fts", "hybrid"] if args.only is None else [args.only]
    sets = [s for s in args.sets.split(",") if s]
    print(f"sets: {', '.join(sets)}; configs: {', '.join(configs)}")
    with tempfile.TemporaryDirectory(prefix="docsdesk-quality-") as data_dir:
        settings = Settings(
            _env_file=None, data_dir=Path(data_dir), database_url=os.environ.get("DATABASE_URL")
        )
        database = await open_database(settings)
        runs = []
        try:
            for name in configs:
                embedder = None
                if name == "hybrid":
                    embedder, reason = await hybrid_embedder(settings, args.embedder)
                    if embedder is None:
                        print(f"hybrid skipped: {reason}")
                        continue
                run = ConfigRun(name)
                print(f"running {name} ...", flush=True)
                await run_config(database.engine, run, sets, args.corpus, embedder)
                runs.append(run)
        finally:
            await database.close()
    if runs:
        print_runs(runs, sets, args.verbose)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["fts", "hybrid"], help="run one configuration")
    parser.add_argument(
        "--sets",
        default="project,dev,heldout,heldout2,dev-reader,heldout-reader",
        help="question sets (bench/questions/SET-*.tsv)",
    )
    parser.add_argument("--verbose", action="store_true", help="list every question not ranked first")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--embedder", default=DEFAULT_EMBEDDINGS, help="the hybrid configuration's embedder")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
