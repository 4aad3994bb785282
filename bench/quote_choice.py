"""How much a better choice of the offline answer's first quote could give, and whether the
answerer's own signals, combined by a learned model instead of the hand-set rules, choose better.

For each covered question of the dev sets (with its expected phrase), the answerer scores the
pieces of the passages (`docsdesk.assistant.answer`) and picks the first quote among the best
ones (`_first_quote`). This prints, per set and in all:

- `now`: answers holding the phrase, as the answerer is;
- `bound@K`: answers that hold it now or whose first quote could hold it: one of the K best-scored
  pieces' quotes holds it (what a perfect chooser among them could reach);
- `learned`: answers holding it when the first quote is the best of the K pieces by a conditional
  logit over the answerer's signals (the piece's score, the share of the question its whole quote
  holds, the passage's rank and match, kind, position, whether it names code, its heading's
  share, the quote's length, and with `--embedder` the cosine of the question with the quote and
  with the piece), trained on the other sets and tested on the held-back one (leave one set out),
  and fitted on all sets (`in-sample`, an upper bound of what the signals can do).

    python bench/quote_choice.py --sets dev-reader,dev4-reader,dev6-reader [--k 6] [--embedder SPEC]

Held-out sets (`heldout*`) are refused: this reads each question's candidates and misses.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import docsdesk.assistant.answer as answer  # noqa: E402
from bench._doc_sets import QUESTIONS, all_doc_sets, searched_doc_sets  # noqa: E402
from bench.offline_answer import normal  # noqa: E402
from docsdesk.assistant.answer_eval import tool_output  # noqa: E402
from docsdesk.assistant.offline import offline_reply  # noqa: E402
from docsdesk.assistant.pieces import Piece, Quote, render  # noqa: E402
from docsdesk.assistant.quotes import dangles, quote_for, quoted_terms  # noqa: E402
from docsdesk.assistant.words import terms  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.embeddings import build_embedder  # noqa: E402
from rag.evaluate import load_questions  # noqa: E402

_CODE_NAME = re.compile(r"`[^`]+`|\b[a-z]+_[a-z_]+\b|\b[a-z]+[A-Z]\w+\b|\b[A-Z][a-z]+[A-Z]\w+\b")
_HOW = re.compile(r"\b(?:how|way|can i|want|need|possible|should)\b", re.IGNORECASE)


@dataclass
class Case:
    set_name: str
    question: str
    phrase: str
    output: str  # the search tool's output the answerer reads


Cosine = Callable[[str, str], float]


def signals(
    question: str,
    piece: Piece,
    section: Any,
    weight: dict[str, float],
    total: float,
    top: float,
    cosine: Cosine | None,
) -> list[float]:
    """One candidate's signals, each roughly in [0, 1]."""
    quote = quote_for(piece, section.pieces)
    held = sum(w for t, w in weight.items() if t in quoted_terms(quote)) / total
    heading = sum(w for t, w in weight.items() if t in terms(piece.heading)) / total
    names_code, how = bool(_CODE_NAME.search(piece.text)), bool(_HOW.search(question))
    values = [
        piece.score / top,
        held,
        section.rank / 4,
        section.match,
        float(piece.kind == "code"),
        float(piece.kind == "item"),
        float(piece.kind == "row"),
        min(piece.order, 10) / 10,
        float(dangles(quote, section.pieces)),
        float(names_code),
        heading,
        float(section.rank == 0),
        math.log(1 + len(render([quote]))) / 8,
        float(how and piece.kind == "code"),
        float(how and names_code),
    ]
    if cosine is not None:
        values += [cosine(question, render([quote])), cosine(question, piece.heading + " " + piece.text)]
    return values


def candidates_of(
    case: Case, k: int, cosine: Cosine | None
) -> tuple[bool, np.ndarray | None, np.ndarray | None]:
    """Whether the answer holds the phrase now, and the K best pieces' signals and labels (their
    quote holds the phrase)."""
    seen: dict[str, Any] = {}
    original = answer._first_quote

    def recording(candidates: list[tuple[Piece, Any]], weight: dict[str, float], total: float) -> Any:
        top = candidates[0][0].score or 1.0
        chosen = candidates[:k]
        seen["x"] = [signals(case.question, p, s, weight, total, top, cosine) for p, s in chosen]
        seen["y"] = [normal(case.phrase) in normal(render([quote_for(p, s.pieces)])) for p, s in chosen]
        return original(candidates, weight, total)

    with mock.patch.object(answer, "_first_quote", recording):
        hit = normal(case.phrase) in normal(offline_reply(case.output, case.question).text)
    if "x" not in seen:
        return hit, None, None
    return hit, np.array(seen["x"]), np.array(seen["y"], dtype=float)


def fit(
    groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 0.05, steps: int = 1500, rate: float = 0.5
) -> np.ndarray:
    """A conditional logit: softmax over each question's candidates, towards those holding the phrase."""
    w = np.zeros(groups[0][0].shape[1])
    for _ in range(steps):
        gradient = l2 * w
        for x, y in groups:
            s = x @ w
            p = np.exp(s - s.max())
            gradient += x.T @ (p / p.sum() - y / y.sum()) / len(groups)
        w -= rate * gradient
    return w


def hits_with(w: np.ndarray, cases: list[Case], k: int, cosine: Cosine | None) -> int:
    """Answers holding the phrase when the first quote is the best of the K pieces by `w`."""

    def chooser(question: str) -> Callable[..., tuple[Piece, list[Quote]]]:
        def choosing(
            candidates: list[tuple[Piece, Any]], weight: dict[str, float], total: float
        ) -> tuple[Piece, list[Quote]]:
            top = candidates[0][0].score or 1.0
            chosen = candidates[:k]
            x = np.array([signals(question, p, s, weight, total, top, cosine) for p, s in chosen])
            piece, section = chosen[int(np.argmax(x @ w))]
            return piece, [quote_for(piece, section.pieces)]

        return choosing

    hits = 0
    for case in cases:
        with mock.patch.object(answer, "_first_quote", chooser(case.question)):
            hits += normal(case.phrase) in normal(offline_reply(case.output, case.question).text)
    return hits


async def load_cases(sets: list[str]) -> list[Case]:
    cases = []
    async with searched_doc_sets("qc-") as search:
        for set_name in sets:
            for name in all_doc_sets():
                path = QUESTIONS / f"{set_name}-{name}.tsv"
                for case in load_questions(path) if path.is_file() else []:
                    if case.expected and case.phrase:
                        output = await tool_output(search, case.question, f"qc-{name}")
                        cases.append(Case(set_name, case.question, case.phrase, output))
    return cases


def cosine_of(spec: str | None) -> Cosine | None:
    if not spec:
        return None
    embedder = build_embedder(spec, Settings(_env_file=None))
    assert embedder is not None, spec
    cache: dict[str, np.ndarray] = {}

    def vector(text: str) -> np.ndarray:
        if text not in cache:
            v = np.array(asyncio.run(embedder.embed([text]))[0])
            cache[text] = v / (np.linalg.norm(v) or 1.0)
        return cache[text]

    return lambda a, b: float(vector(a) @ vector(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="dev-reader,dev4-reader,dev6-reader")
    parser.add_argument("--k", type=int, default=6, help="the best-scored pieces a chooser picks among")
    parser.add_argument(
        "--embedder", help="add the cosine of question and quote with this DOCSDESK_EMBEDDINGS spec"
    )
    args = parser.parse_args()
    sets = args.sets.split(",")
    if any(s.startswith("heldout") for s in sets):
        sys.exit("held-out sets are never read question by question")
    cases = asyncio.run(load_cases(sets))
    cosine = cosine_of(args.embedder)
    rows = [(case, *candidates_of(case, args.k, cosine)) for case in cases]
    trainable = [(x, y) for _, _, x, y in rows if x is not None and y is not None and y.sum()]
    print(
        f"{'set':<14} {'n':>4} {'now':>5} {'bound@1':>8} {'bound@3':>8} {f'bound@{args.k}':>8} {'learned':>8}"
    )
    totals = np.zeros(6, dtype=int)
    for set_name in sets:
        mine = [r for r in rows if r[0].set_name == set_name]
        others = [
            (x, y)
            for c, _, x, y in rows
            if c.set_name != set_name and x is not None and y is not None and y.sum()
        ]
        bounds = [
            sum(hit or (y is not None and bool(y[:n].any())) for _, hit, _, y in mine) for n in (1, 3, args.k)
        ]
        learned = hits_with(fit(others), [r[0] for r in mine], args.k, cosine) if others else 0
        figures = np.array([len(mine), sum(r[1] for r in mine), *bounds, learned])
        totals += figures
        print(
            f"{set_name:<14} "
            + " ".join(f"{v:>{w}}" for v, w in zip(figures, (4, 5, 8, 8, 8, 8), strict=True))
        )
    print(f"{'all':<14} " + " ".join(f"{v:>{w}}" for v, w in zip(totals, (4, 5, 8, 8, 8, 8), strict=True)))
    print(f"in-sample (fitted on all sets): {hits_with(fit(trainable), cases, args.k, cosine)}")


if __name__ == "__main__":
    main()
