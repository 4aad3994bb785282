"""Offline answer benchmark: the answer step's latency, and question-to-expected-phrase checks.

Ingests both doc sets of the shared corpus (full-text), runs the real search for every question
of bench/questions/project-*.tsv, then times the offline model's answer step
(`offline_answer`: parse the tool output, score and select the pieces, render) on each tool
output, REPEAT times. Prints p50 / p95 / max in ms (target: p95 < 20 ms).

Then the phrase checks: a few questions over the real corpus, each with a phrase the answer
must quote (the sentence, table row or code that answers), and questions the docs do not
cover, which must get the "not covered" reply with no citation.

    python bench/offline_answer.py
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

from docsdesk.assistant.offline import OFFLINE_NOT_COVERED, OFFLINE_NOTHING_FOUND, offline_answer  # noqa: E402
from docsdesk.assistant.search_tool import format_passages  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.search import DocsSearch  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
DOC_SETS = {
    "chatkit": ("chatkit-python", "https://openai.github.io/chatkit-python/"),
    "agents": ("openai-agents-python", "https://openai.github.io/openai-agents-python/"),
}
REPEAT = 5
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


async def tool_output(search: DocsSearch, question: str, collection: str) -> str:
    """What the search_docs tool returns for `question` (docsdesk.assistant.search_tool.run_search without a turn)."""
    results = await search.search(question, k=5, collection=collection)
    unknown = await search.unknown_words(question, collection=collection)
    return format_passages(question, list(enumerate(results, start=1)), unknown)


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="docsdesk-offline-") as data_dir:
        settings = Settings(
            _env_file=None, data_dir=Path(data_dir), database_url=os.environ.get("DATABASE_URL")
        )
        db = await open_database(settings)
        try:
            for name, (folder, base) in DOC_SETS.items():
                await ingest(
                    db.engine,
                    [CORPUS / folder],
                    base_url=base,
                    collection=f"offline-{name}",
                    url_style="mkdocs",
                )
            search = DocsSearch(db.engine)
            outputs: list[tuple[str, str]] = []
            for name in DOC_SETS:
                for case in load_questions(REPO / "bench" / "questions" / f"project-{name}.tsv"):
                    outputs.append(
                        (case.question, await tool_output(search, case.question, f"offline-{name}"))
                    )
            timings = []
            for _ in range(REPEAT):
                for question, output in outputs:
                    started = time.perf_counter()
                    offline_answer(output, question)
                    timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            print(
                f"answer step over {len(outputs)} tool outputs x {REPEAT}: p50 {statistics.median(timings):.2f} ms, "
                f"p95 {p95:.2f} ms, max {timings[-1]:.2f} ms (target p95 < 20 ms: {'ok' if p95 < 20 else 'MISSED'})"
            )
            failures = 0
            for name, question, phrase in PHRASES:
                text = offline_answer(await tool_output(search, question, f"offline-{name}"), question)
                ok = phrase in text
                failures += not ok
                print(f"[{'ok' if ok else 'MISS'}] {question!r} quotes {phrase!r}")
                if not ok:
                    print("    " + text.replace("\n", "\n    "))
            for name, question in NOT_COVERED:
                text = offline_answer(await tool_output(search, question, f"offline-{name}"), question)
                ok = text in (OFFLINE_NOT_COVERED, OFFLINE_NOTHING_FOUND)
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
