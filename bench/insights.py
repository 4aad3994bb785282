"""Insights benchmark: the report and a full export over 100,000 recorded turns.

Seeds N turn records (default 100,000) over 90 days in one collection: realistic reader
questions (bench/questions/project-*.tsv) with near-duplicate variants (case, punctuation, typos),
70% answered / 20% not covered / 8% error / 2% cancelled (nine in ten not-covered turns with a
reason, the rest as recorded before reasons were), cited pages of the collection,
a word no page uses in each not-covered turn's search (one of the question's own words), a
tenth of the turns follow-ups of another question,
negative feedback on 3% of answers. Then:

- times the report (`build_report`, what GET /admin/api/report and `docsdesk report` run):
  the first (cold) run and the median of the next runs; target < 1 s;
- exports every turn of the window in each format in a child process (to /dev/null) and
  prints its time and the child's peak RSS, for a 7-day and the full 90-day window: the
  memory must stay flat whatever the range (target < 100 MB).

The database is an embedded PostgreSQL in a temporary directory, or DATABASE_URL (the
benchmark then leaves its collection's rows behind under the name `bench-insights`).

    python bench/insights.py [--turns 100000] [--report-runs 5] [--baseline REV]

`--baseline REV` also times the report of docsdesk/insights/report.py at git revision REV,
alternating with today's on the same turns, and prints both medians and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402

from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from docsdesk.core.turn import NotCoveredReason  # noqa: E402
from docsdesk.insights.export import FORMATS, export_chunks  # noqa: E402
from docsdesk.insights.report import Scope, build_report  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402
from rag.ingest import ingest  # noqa: E402

COLLECTION = "bench-insights"
CORPUS = REPO.parent / "shared" / "corpus" / "chatkit-python"
FIXTURE_DOCS = REPO / "tests" / "fixtures" / "docs"
QUESTIONS = Path(__file__).resolve().parent / "questions"
DAYS = 90
TARGET_REPORT_SECONDS = 1.0
TARGET_EXPORT_MB = 100.0

# Threads first (turn records reference them), then the turns, all in SQL: the variants
# of each question are made by the statement (lower case, no '?', a swapped letter pair).
_SEED_THREADS = text(
    """
    INSERT INTO threads (id, tenant_id, user_id, data, created_at)
    SELECT 'thr_bench_' || g, '', 'bench-user-' || (g % 5000),
           jsonb_build_object('id', 'thr_bench_' || g, 'created_at', now(), 'status', jsonb_build_object('type', 'active')),
           now() - (random() * interval '90 days')
    FROM generate_series(1, :threads) AS g
    ON CONFLICT (id) DO NOTHING
    """
)
_SEED_TURNS = text(
    """
    INSERT INTO turns (thread_id, question_item_id, answer_item_id, tenant_id, user_hash, collection,
                       question, page_url, searches, cited_urls, answer, outcome, model,
                       first_text_ms, duration_ms, created_at, not_covered_reason, follows)
    SELECT 'thr_bench_' || (1 + g % :threads), 'msg_q_' || g, 'msg_a_' || g, '',
           substr(md5('u' || (g % 5000)), 1, 16), :collection,
           CASE g % 4
               WHEN 0 THEN q.text
               WHEN 1 THEN lower(rtrim(q.text, '?'))
               WHEN 2 THEN initcap(q.text) || '?'
               ELSE overlay(q.text placing reverse(substr(q.text, 5, 2)) from 5 for 2)
           END,
           u.url,
           jsonb_build_array(jsonb_build_object(
               'query', q.text, 'results', 5, 'best_score', 0.03,
               'not_in_docs', CASE WHEN o.outcome = 'not_covered' THEN jsonb_build_array(w.word)
                                   ELSE '[]'::jsonb END)),
           CASE WHEN o.outcome = 'answered' THEN ARRAY[u.url || '#section', u2.url] ELSE '{}' END,
           'An answer of a few sentences that quotes the documentation [1].', o.outcome, 'offline',
           200 + (random() * 800)::int, 1000 + (random() * 3000)::int,
           now() - (random() * interval '90 days'),
           CASE WHEN o.outcome = 'not_covered' AND g % 10 > 0  -- a tenth from before reasons were recorded
                THEN (CAST(:reasons AS text[]))[1 + g % 5] END,
           CASE WHEN g % 10 = 3 THEN (CAST(:questions AS text[]))[1 + (g * 31 % :nq)] END  -- a follow-up
    FROM generate_series(1, :turns) AS g
    CROSS JOIN LATERAL (SELECT (CAST(:questions AS text[]))[1 + (g * 7919 % :nq) % :nq] AS text) q
    -- the reader's word no page uses: one of the question's own words, as the search reports it
    CROSS JOIN LATERAL (SELECT coalesce((regexp_match(q.text, '.*\\m([[:alpha:]]{5,})'))[1], 'word') AS word) w
    CROSS JOIN LATERAL (SELECT (CAST(:urls AS text[]))[1 + (g % :nu)] AS url) u
    CROSS JOIN LATERAL (SELECT (CAST(:urls AS text[]))[1 + ((g / 3) % :nu)] AS url) u2
    CROSS JOIN LATERAL (SELECT CASE WHEN g % 50 < 35 THEN 'answered' WHEN g % 50 < 45 THEN 'not_covered'
                                    WHEN g % 50 < 49 THEN 'error' ELSE 'cancelled' END AS outcome) o
    """
)
_SEED_FEEDBACK = text(
    """
    WITH rated AS (
        SELECT t.answer_item_id, t.thread_id FROM turns t
        WHERE t.collection = :collection AND t.outcome = 'answered' AND t.id % 33 = 0
    ), added AS (
        INSERT INTO items (id, thread_id, tenant_id, user_id, data)
        SELECT answer_item_id, thread_id, '', 'bench-user', '{}'::jsonb FROM rated
        ON CONFLICT (id) DO NOTHING RETURNING id, thread_id
    )
    INSERT INTO feedback (item_id, thread_id, tenant_id, user_id, kind)
    SELECT id, thread_id, '', 'bench-user', 'negative' FROM added
    """
)


def questions() -> list[str]:
    """The project's own question set (bench/questions/project-*.tsv): readers' questions."""
    return [
        case.question for path in sorted(QUESTIONS.glob("project-*.tsv")) for case in load_questions(path)
    ]


async def seed(engine, turns: int) -> None:
    async with engine.connect() as conn:
        present = await conn.scalar(
            text("SELECT count(*) FROM turns WHERE collection = :c"), {"c": COLLECTION}
        )
        urls = list(
            (
                await conn.execute(
                    text("SELECT page_url FROM docs_documents WHERE collection = :c ORDER BY page_url"),
                    {"c": COLLECTION},
                )
            ).scalars()
        )
    if present >= turns:
        print(f"{present} turns already recorded in {COLLECTION!r}; not seeding")
        return
    started = time.perf_counter()
    asked = questions()
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL statement_timeout = 0"))
        await conn.execute(_SEED_THREADS, {"threads": turns // 5})
        await conn.execute(
            _SEED_TURNS,
            {
                "threads": turns // 5,
                "turns": turns - present,
                "collection": COLLECTION,
                "questions": asked,
                "nq": len(asked),
                "urls": urls,
                "nu": len(urls),
                "reasons": [r.value for r in NotCoveredReason],
            },
        )
        await conn.execute(_SEED_FEEDBACK, {"collection": COLLECTION})
        await conn.execute(text("ANALYZE turns"))
    print(f"seeded {turns - present} turns ({turns // 5} threads) in {time.perf_counter() - started:.1f} s")


def baseline_report(revision: str):
    """`build_report` of docsdesk/insights/report.py at git revision `revision` (its other
    imports are today's modules)."""
    shown = subprocess.run(
        ["git", "show", f"{revision}:docsdesk/insights/report.py"], cwd=REPO, capture_output=True, text=True
    )
    if shown.returncode != 0:
        raise SystemExit(f"--baseline {revision}: {shown.stderr.strip()}")
    path = Path(tempfile.mkdtemp(prefix="docsdesk-baseline-")) / "report_baseline.py"
    path.write_text(shown.stdout, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("report_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["report_baseline"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.build_report


async def compare_report(engine, runs: int, revision: str) -> None:
    """Today's report and the revision's, run alternately on the same turns: medians and ratio."""
    old_build = baseline_report(revision)
    scope = Scope(collection=COLLECTION, days=DAYS + 1)
    timings: dict[str, list[float]] = {"today": [], revision: []}
    await build_report(engine, scope)
    await old_build(engine, scope)  # warm-up, both
    for _ in range(runs):
        for name, build in (("today", build_report), (revision, old_build)):
            started = time.perf_counter()
            await build(engine, scope)
            timings[name].append(time.perf_counter() - started)
    new, old = statistics.median(timings["today"]), statistics.median(timings[revision])
    print(
        f"  interleaved with {revision}'s report, {runs} runs each: median {new * 1000:.0f} ms against "
        f"{old * 1000:.0f} ms ({new / old:.2f}x)"
    )


async def time_report(engine, runs: int) -> tuple[float, list[float], dict]:
    scope = Scope(collection=COLLECTION, days=DAYS + 1)
    timings = []
    report = {}
    for _ in range(runs + 1):
        started = time.perf_counter()
        report = await build_report(engine, scope)
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1:], report


def export_in_child(fmt: str, days: int, trace: bool = False) -> tuple[int, float, float, float | None]:
    """(rows, seconds, peak RSS MB, peak Python heap MB during the export or None) of a full
    export in a fresh process; `trace` = with tracemalloc (slower: not for the timing)."""
    command = [
        sys.executable,
        __file__,
        "--export-child",
        fmt,
        "--days",
        str(days),
        *(["--trace"] if trace else []),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=os.environ.copy(), cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    out = process.stdout.read().decode() if process.stdout else ""
    process.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"export child failed: {out}")
    result = json.loads(out.strip().splitlines()[-1])
    return result["rows"], result["seconds"], usage.ru_maxrss / 1024, result["heap_mb"]


async def child_export(fmt: str, days: int, sink, trace: bool) -> None:
    settings = child_settings()
    db = await open_database(settings, run_migrations=False)
    rows = 0
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    try:
        async for chunk, n in export_chunks(db.engine, Scope(collection=COLLECTION, days=days), fmt):
            sink.write(chunk)  # /dev/null: never blocks
            rows += n
    finally:
        await db.close()
    seconds = time.perf_counter() - started
    heap = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    print(json.dumps({"rows": rows, "seconds": seconds, "heap_mb": heap}))


def child_settings() -> Settings:
    return Settings(
        _env_file=None, database_url=os.environ["DATABASE_URL"], data_dir=Path(os.environ["BENCH_DATA_DIR"])
    )


async def main(args: argparse.Namespace) -> None:
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} core(s)")
    with tempfile.TemporaryDirectory(prefix="docsdesk-bench-insights-") as tmp:
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            database_url=os.environ.get("DATABASE_URL"),
            model="offline",
            embeddings="none",
        )
        db = await open_database(settings)
        try:
            docs = CORPUS if CORPUS.is_dir() else FIXTURE_DOCS
            summary = await ingest(
                db.engine, [docs], base_url="https://docs.example.com/", collection=COLLECTION
            )
            print(f"collection {COLLECTION!r}: {summary.added + summary.unchanged} pages from {docs}")
            await seed(db.engine, args.turns)
            cold, warm, report = await time_report(db.engine, args.report_runs)
            totals = report["totals"]
            print(
                f"\nreport over {totals['turns']} turns ({totals['not_covered']} not covered, "
                f"{len(report['coverage_gaps'])} gap groups shown, {report['feedback']['negative']} rated down, "
                f"grouping {report['grouping']['method']}):"
            )
            median = statistics.median(warm)
            print(
                f"  first run {cold * 1000:.0f} ms; next {len(warm)} runs median {median * 1000:.0f} ms, "
                f"max {max(warm) * 1000:.0f} ms  [target < {TARGET_REPORT_SECONDS:.0f} s: "
                f"{'PASS' if max(cold, *warm) < TARGET_REPORT_SECONDS else 'MISS'}]"
            )
            if args.baseline:
                await compare_report(db.engine, args.report_runs, args.baseline)
            os.environ["DATABASE_URL"] = db.url
            os.environ["BENCH_DATA_DIR"] = tmp
            print(
                "\nexport (child process to /dev/null; peak RSS of the child, interpreter included; the heap\n"
                "figure from a second run under tracemalloc):"
            )
            peaks = []
            for fmt in FORMATS:
                for days in (7, DAYS + 1):
                    rows, seconds, peak, _ = export_in_child(fmt, days)
                    heap = export_in_child(fmt, days, trace=True)[3]
                    peaks.append(peak)
                    rate = rows / seconds if seconds else 0
                    print(
                        f"  {fmt:<5} {days:>3} days: {rows:>7} turns in {seconds:6.2f} s ({rate:,.0f}/s), "
                        f"peak RSS {peak:6.1f} MB; peak heap allocated during the export {heap:4.1f} MB"
                    )
            print(
                f"  peak RSS range {min(peaks):.1f}-{max(peaks):.1f} MB over 7- and {DAYS + 1}-day windows "
                f"[target flat, < {TARGET_EXPORT_MB:.0f} MB: {'PASS' if max(peaks) < TARGET_EXPORT_MB else 'MISS'}]"
            )
            print(
                f"\nload average at the end: {os.getloadavg()[0]:.1f} (the machine is shared: figures are under load)"
            )
        finally:
            await db.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=100_000, help="turn records to seed")
    parser.add_argument("--report-runs", type=int, default=5, help="timed report runs after the first")
    parser.add_argument(
        "--baseline", metavar="REV", help="also time the report as it was at this git revision"
    )
    parser.add_argument("--export-child", choices=FORMATS, help=argparse.SUPPRESS)
    parser.add_argument("--days", type=int, default=DAYS + 1, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.turns < 1 or args.report_runs < 1:
        parser.error("--turns and --report-runs must be >= 1")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if arguments.export_child:
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            asyncio.run(child_export(arguments.export_child, arguments.days, devnull, arguments.trace))
    else:
        asyncio.run(main(arguments))
