"""Offline answer benchmark: the answer step's latency, and question-to-expected-phrase checks.

Ingests both doc sets of the shared corpus (hybrid, with the default embedder; `--embedder=none`
for full text only, or any DOCSDESK_EMBEDDINGS spec), runs the real search for every question
of bench/questions/project-*.tsv, then times the offline model's answer step
(`offline_answer`: parse the tool output, score and select the pieces, render) on each tool
output, REPEAT times. Prints p50 / p95 / max in ms (target: p95 < 20 ms).

Then the phrase checks: a few questions over the real corpus, each with a phrase the answer
must quote (the sentence, table row or code that answers), and questions the docs do not
cover, which must get the "not covered" reply with no citation.

    python bench/offline_answer.py [--sets=dev-reader,heldout-reader] [--embedder=SPEC] [--verbose] [--page-sections=N]

Question sets: bench/questions/SET-COLLECTION.tsv (a third column, the phrase; expected "-" for
an out-of-scope question); the third-party doc sets under bench/corpora/NAME are ingested with
the base URL of their SOURCE.md. --verbose lists the misses (an out-of-scope question answered
shows phrase='-'), except for held-out sets, each with its class (`miss_class`: "retrieval" when
the expected page is not the first passage, else "other page" or "passage"; "+phrase" when a
passage given to the answerer holds the phrase; "+phrase(first page's further sections)" when
one of those holds it). "hit@page1": the phrase hit rate among the
questions whose expected page is the first passage, the answerer's own share of the misses.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._doc_sets import DOC_SETS, QUESTIONS, all_doc_sets, ingest_doc_sets  # noqa: E402
from docsdesk.assistant.answer_eval import tool_output as offline_tool_output  # noqa: E402
from docsdesk.assistant.offline import (  # noqa: E402
    TOP_PASSAGES,
    offline_answer,
    offline_reply,
    parse_search_output,
)
from docsdesk.assistant.search_tool import OFFLINE_TOP_PAGE_SECTIONS, TOP_PAGE_KEY  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.embeddings import DEFAULT_EMBEDDINGS, build_embedder  # noqa: E402
from rag.evaluate import load_questions, matches  # noqa: E402
from rag.search import DocsSearch, SearchQuery  # noqa: E402

REPEAT = 5
SETS = ["project", "dev", "dev-reader", "heldout", "heldout2", "heldout-reader"]
# (collection, question, a phrase the answer must contain)
PHRASES = [
    ("agents", "What model does an agent use when none is set?", "gpt-5.6-luna"),
    ("agents", "How do I set the OpenAI API key in code?", 'set_default_openai_key("sk-...")'),
    ("agents", "What happens when max_turns is exceeded?", "MaxTurnsExceeded"),
    (
        "chatkit",
        "How do I enable the thumbs up/down feedback actions in the client?",
        "threadItemActions.feedback",
    ),
    ("chatkit", "Which server method receives feedback?", "add_feedback"),
    # A word of the reader's own (their app's name) that no page uses does not stop the answer.
    ("chatkit", "Which server method receives feedback in my Zorbly app?", "add_feedback"),
]
NOT_COVERED = [
    ("agents", "How do I deploy the agent to a Kubernetes cluster with Helm charts?"),
    ("chatkit", "Does ChatKit support billing invoices in euros?"),
]


PAGE_SECTIONS = int(
    next(
        (a.split("=", 1)[1] for a in sys.argv if a.startswith("--page-sections=")), OFFLINE_TOP_PAGE_SECTIONS
    )
)


async def tool_output(search: DocsSearch, question: str, collection: str) -> str:
    """What the offline model's search_docs tool returns for `question` (without a turn), with
    --page-sections further sections of the first page (default: the offline model's; 0: none)."""
    return await offline_tool_output(search, question, collection, PAGE_SECTIONS)


async def page_sections_cost(search: DocsSearch, questions: list[tuple[str, str]]) -> None:
    """The cost of the first page's further sections: each search timed without and with them,
    alternating, REPEAT times over `questions` ((question, collection))."""
    timings: dict[int, list[float]] = {0: [], PAGE_SECTIONS: []}
    for _ in range(REPEAT):
        for question, collection in questions:
            for sections in timings:
                started = time.perf_counter()
                await search.find(
                    SearchQuery.of(question, k=5, collection=collection, page_sections=sections)
                )
                timings[sections].append((time.perf_counter() - started) * 1000)
    for sections, values in timings.items():
        p95 = _p95(values)
        print(
            f"search with {sections} first-page sections over {len(questions)} questions x {REPEAT}: "
            f"p50 {statistics.median(values):.2f} ms, p95 {p95:.2f} ms"
        )


def _p95(values: list[float]) -> float:
    """The 95th percentile of `values` (sorted in place)."""
    values.sort()
    return values[max(0, round(0.95 * len(values)) - 1)]


def reply_of(output: str, question: str) -> tuple[str, bool, tuple[int, ...]]:
    """(the answer, whether it is a refusal, the passages it cites): the typed decision."""
    reply = offline_reply(output, question)
    return reply.text, not reply.answer.covered, reply.answer.cited


def normal(text: str) -> str:
    return " ".join(text.replace("`", "").replace("**", "").split()).casefold()


def miss_class(output: str, expected: tuple[str, ...], phrase: str, cited: tuple[int, ...]) -> str:
    """Why an answer missed its phrase: "retrieval" (the expected page is not the first passage
    given to the answerer), "other page" (it is, but the answer's first quote cites another
    passage), "passage" (the first quote is from the expected page but not the phrase's piece);
    "+phrase" when the phrase is in the expected page's passages given to the answerer."""
    passages = parse_search_output(output)[:TOP_PASSAGES]
    ranks = [p.number for p in passages if any(matches(p.url, e) for e in expected)]
    held = any(normal(phrase) in normal(p.text) for p in passages if p.number in ranks)
    first = passages[0].number if passages else None
    if first not in ranks:
        where = f"rank {[p.number for p in passages].index(ranks[0]) + 1}" if ranks else "absent"
        kind = f"retrieval ({where})"
    else:
        kind = "other page" if cited and cited[0] not in ranks else "passage"
    more = parse_search_output(output, TOP_PAGE_KEY)  # the first page's further sections
    in_more = any(normal(phrase) in normal(p.text) for p in more if any(matches(p.url, e) for e in expected))
    return (
        kind + (" +phrase" if held else "") + (" +phrase(first page's further sections)" if in_more else "")
    )


def first_rank(output: str, expected: tuple[str, ...]) -> bool:
    """Whether the first passage given to the answerer is from the expected page."""
    passages = parse_search_output(output)
    return bool(passages) and any(matches(passages[0].url, e) for e in expected)


async def answer_sets(
    search: DocsSearch, sets: list[str], collections: dict[str, str], verbose: bool
) -> None:
    """Per question set: phrase hit rate (and among the questions whose expected page is the
    first passage, "hit@page1": the answerer's share), false refusals, out-of-scope refusals
    (no citation)."""
    print(
        f"\n{'set':<28} {'n':>4} {'phrase hit':>12} {'hit@page1':>12} {'false refusal':>14} {'oos refused':>12}"
    )
    for set_name in sets:
        for name, collection in collections.items():
            path = QUESTIONS / f"{set_name}-{name}.tsv"
            if not path.exists():
                continue
            hits = phrased = refused_covered = covered = oos = oos_ok = page1 = page1_hits = 0
            misses = []
            for case in load_questions(path):
                output = await tool_output(search, case.question, collection)
                text, refused, cited = reply_of(output, case.question)
                if not case.expected:
                    oos += 1
                    oos_ok += refused and not cited
                    if not (refused and not cited):  # out of scope, yet answered (or citing)
                        misses.append((case.question, "-", text))
                    continue
                covered += 1
                refused_covered += refused
                if getattr(case, "phrase", ""):
                    phrased += 1
                    hit = not refused and normal(case.phrase) in normal(text)
                    hits += hit
                    on_top = first_rank(output, case.expected)
                    page1 += on_top
                    page1_hits += hit and on_top
                    if not hit:
                        kind = miss_class(output, case.expected, case.phrase, cited)
                        misses.append((case.question, case.phrase, f"[{kind}] {text}"))
                elif refused:
                    misses.append((case.question, "", text))

            def rate(a: int, b: int) -> str:
                return f"{a / b:.3f} ({a}/{b})" if b else "-"

            print(
                f"{set_name + '-' + name:<28} {covered + oos:>4} {rate(hits, phrased):>12} {rate(page1_hits, page1):>12} "
                f"{rate(refused_covered, covered):>14} {rate(oos_ok, oos):>12}"
            )
            if verbose and not set_name.startswith("heldout"):  # never look at a held-out miss
                for question, phrase, text in misses:
                    print(f"    MISS {question!r} phrase={phrase!r}\n      " + " ".join(text.split())[:600])


async def answer_step(search: DocsSearch, questions: list[tuple[str, str]]) -> None:
    """The answer step's latency on each question's tool output, with the first page's further
    sections (--page-sections) and without them, alternating, REPEAT times."""
    outputs = [
        (q, await tool_output(search, q, c), await offline_tool_output(search, q, c, 0)) for q, c in questions
    ]
    timings: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(REPEAT):
        for question, output, plain in outputs:
            for label, given in (("with", output), ("without", plain)):
                started = time.perf_counter()
                offline_answer(given, question)
                timings[label].append((time.perf_counter() - started) * 1000)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, values in timings.items():
        p95 = _p95(values)
        print(
            f"answer step over {len(outputs)} tool outputs x {REPEAT}, {label} first-page sections: "
            f"p50 {statistics.median(values):.2f} ms, p95 {p95:.2f} ms, max {values[-1]:.2f} ms "
            f"(target p95 < 20 ms: {'ok' if p95 < 20 else 'MISSED'})"
        )


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="docsdesk-offline-") as data_dir:
        settings = Settings(
            _env_file=None, data_dir=Path(data_dir), database_url=os.environ.get("DATABASE_URL")
        )
        db = await open_database(settings)
        spec = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--embedder=")), DEFAULT_EMBEDDINGS)
        embedder = build_embedder(spec, settings)
        print(f"embedder: {embedder.name if embedder else 'none (full text only)'}")
        try:
            await ingest_doc_sets(db.engine, "offline-", embedder)
            search = DocsSearch(db.engine, embedder)
            collections = {name: f"offline-{name}" for name in all_doc_sets()}
            chosen = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--sets=")), SETS)
            await answer_sets(search, chosen, collections, "--verbose" in sys.argv)
            asked = [
                (case.question, f"offline-{name}")
                for name in DOC_SETS
                for case in load_questions(REPO / "bench" / "questions" / f"project-{name}.tsv")
            ]
            await page_sections_cost(search, asked)
            await answer_step(search, asked)
            failures = 0
            for name, question, phrase in PHRASES:
                text = offline_answer(await tool_output(search, question, f"offline-{name}"), question)
                ok = phrase in text
                failures += not ok
                print(f"[{'ok' if ok else 'MISS'}] {question!r} quotes {phrase!r}")
                if not ok:
                    print("    " + text.replace("\n", "\n    "))
            for name, question in NOT_COVERED:
                text, refused, _ = reply_of(await tool_output(search, question, f"offline-{name}"), question)
                ok = refused
                failures += not ok
                print(f"[{'ok' if ok else 'MISS'}] {question!r} is not covered")
                if not ok:
                    print("    " + text.replace("\n", "\n    "))
            print(
                f"phrase checks: {len(PHRASES) + len(NOT_COVERED) - failures}/{len(PHRASES) + len(NOT_COVERED)} passed"
            )
        finally:
            await db.close()


if __name__ == "__main__":
    asyncio.run(main())
