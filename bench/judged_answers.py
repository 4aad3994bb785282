"""The offline answers to a question set's covered questions, written for judges who read the
expected page and say whether each answer answers the question (bench/questions/JUDGE.md).

The phrase hit (`bench/offline_answer.py`) is a strict proxy for a correct answer; a judge who
never sees code, search results or figures tells how often an answer gives the reader what the
page says. Held-out sets stay held out: this prints only how many answers it wrote, never a
row, and the judges report totals.

    python bench/judged_answers.py --sets=heldout7-reader --out /some/dir

One JSON line per covered question in DIR/answers-COLLECTION.jsonl: id, question, expected
URL(s), the docs folder and base URL (to find the page) and the answer's text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._doc_sets import QUESTIONS, all_doc_sets, searched_doc_sets  # noqa: E402
from docsdesk.assistant.answer_eval import tool_output  # noqa: E402
from docsdesk.assistant.offline import offline_reply  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402
from rag.search import DocsSearch  # noqa: E402


async def answers(sets: list[str]) -> dict[str, list[dict]]:
    """{collection: its covered questions' rows} for the question sets `sets`."""
    found: dict[str, list[dict]] = {}
    async with searched_doc_sets("judged-") as search:
        for set_name in sets:
            for name, (folder, base) in all_doc_sets().items():
                path = QUESTIONS / f"{set_name}-{name}.tsv"
                if path.is_file():
                    found.setdefault(name, []).extend(await answer_rows(search, path, name, folder, base))
    return found


async def answer_rows(search: DocsSearch, path: Path, name: str, folder: Path, base: str) -> list[dict]:
    rows = []
    for number, case in enumerate(load_questions(path)):
        if not case.expected:
            continue
        reply = offline_reply(await tool_output(search, case.question, f"judged-{name}"), case.question)
        rows.append(
            {
                "id": f"{path.stem}-{number}",
                "question": case.question,
                "expected": list(case.expected),
                "docs_folder": str(folder),
                "base_url": base,
                "answer": reply.text,
            }
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", required=True, help="question sets, comma-separated (bench/questions/SET-*.tsv)"
    )
    parser.add_argument("--out", type=Path, required=True, help="the folder the judges read")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rows in asyncio.run(answers(args.sets.split(","))).items():
        target = args.out / f"answers-{name}.jsonl"
        target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"{target}: {len(rows)} answers")
