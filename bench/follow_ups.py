"""Follow-up questions without a language model: a reader's second question that leans on their
first ("and where does my server receive that?"), asked as the offline model reads the
conversation (`read_turn`, `search_query`).

Each row of bench/questions/SET.tsv (`collection<TAB>first<TAB>follow-up<TAB>expected<TAB>phrase
<TAB>kind`) is a two-turn conversation over the shared corpus and the vendored sets: the first
question is answered as the offline model answers it, then the follow-up is asked with that
history. `kind`: `leaning` (the follow-up leans on the first question) or `new_topic` (it asks
something of its own). Prints, per kind and in all, the follow-up's page recall@1 / recall@5 (its
search) and how many answers hold the phrase; with `--verbose` each miss (never of a held-out set).

    python bench/follow_ups.py [--sets dev-followups,heldout9-followups] [--verbose]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._doc_sets import QUESTIONS, searched_doc_sets  # noqa: E402
from docsdesk.assistant.answer_eval import contains_phrase, tool_output  # noqa: E402
from docsdesk.assistant.offline import offline_reply, parse_search_output, read_turn, search_query  # noqa: E402
from rag.evaluate import rank_of  # noqa: E402
from rag.search import DocsSearch  # noqa: E402


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


async def ask(search: DocsSearch, items: list[dict[str, Any]], collection: str) -> tuple[str, str]:
    """The offline model's search output and answer for the conversation `items`."""
    query = search_query(read_turn(items))
    output = await tool_output(search, query, collection)
    return output, offline_reply(output, query).text


async def run(sets: list[str], verbose: bool) -> None:
    async with searched_doc_sets("fu-") as search:
        for set_name in sets:
            rows = (QUESTIONS / f"{set_name}.tsv").read_text(encoding="utf-8").splitlines()[1:]
            tally: dict[str, list[int]] = {}
            for row in rows:
                collection, first, follow_up, expected, phrase, kind = row.split("\t")
                wanted = tuple(u.strip() for u in expected.split(","))
                _, answer = await ask(search, [user(first)], f"fu-{collection}")
                output, reply = await ask(
                    search, [user(first), assistant(answer), user(follow_up)], f"fu-{collection}"
                )
                _, rank = rank_of([p.url for p in parse_search_output(output)], wanted)
                hit = contains_phrase(reply, phrase)
                for key in (kind, "all"):
                    counts = tally.setdefault(key, [0, 0, 0, 0])
                    counts[0] += 1
                    counts[1] += rank == 1
                    counts[2] += rank is not None and rank <= 5
                    counts[3] += hit
                if verbose and not hit and not set_name.startswith("heldout"):
                    print(f"MISS {follow_up!r} (after {first!r}) phrase={phrase!r} rank={rank}")
                    print("   ", " ".join(reply.split())[:300])
            for key, (n, at_1, at_5, hits) in tally.items():
                print(
                    f"{set_name} {key:<9} {n:>3} follow-ups  recall@1 {at_1 / n:.3f}  "
                    f"recall@5 {at_5 / n:.3f}  phrase hit {hits}/{n}"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="dev-followups")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    asyncio.run(run(args.sets.split(","), args.verbose))
