"""`docsdesk eval`: how well search finds the expected pages for a set of questions.

The question set is a TSV file: one question per line, a tab, then the expected URL(s),
comma-separated, and optionally a tab and a phrase the answer must contain. Expected `-`
marks an out-of-scope question (the docs do not cover it: it has no expected page and is
left out of the retrieval figures). A header line `question<TAB>expected[<TAB>phrase]` and
lines starting with `#` are skipped. An expected URL without an anchor is a page and matches any of its anchors;
one with an anchor matches that section only. Results are ranked by page (a page counts
once, at its first rank): recall@1 and recall@K (the expected page first / in the top K
results), MRR (mean reciprocal rank, 0 when absent from the top K).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.urls import page_key

if TYPE_CHECKING:
    from rag.search import DocsSearch

K = 5
MAX_QUESTIONS = 10_000


class QuestionSetError(ValueError):
    """The question file cannot be read or a line is malformed (names the line)."""


OUT_OF_SCOPE = "-"


@dataclass(frozen=True)
class Case:
    question: str
    expected: tuple[str, ...]  # () for an out-of-scope question
    line: int = 0
    phrase: str = ""  # what the answer must contain ("" when the set gives none)

    @property
    def out_of_scope(self) -> bool:
        return not self.expected


@dataclass
class Outcome:
    case: Case
    pages: list[str]  # result URLs, one per page, in rank order (first URL seen for the page)
    rank: int | None  # 1-based rank of the first expected page, None if absent

    def as_dict(self) -> dict:
        return {
            "question": self.case.question,
            "expected": list(self.case.expected),
            "rank": self.rank,
            "results": self.pages,
        }


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    k: int = K

    @property
    def covered(self) -> list[Outcome]:
        """The outcomes of questions with an expected page (out-of-scope ones aside)."""
        return [o for o in self.outcomes if not o.case.out_of_scope]

    @property
    def recall_at_1(self) -> float:
        return sum(o.rank == 1 for o in self.covered) / max(1, len(self.covered))

    @property
    def recall_at_k(self) -> float:
        return sum(o.rank is not None for o in self.covered) / max(1, len(self.covered))

    @property
    def mrr(self) -> float:
        return sum(1 / o.rank for o in self.covered if o.rank) / max(1, len(self.covered))

    @property
    def misses(self) -> list[Outcome]:
        """Questions whose expected page was not first."""
        return [o for o in self.covered if o.rank != 1]

    def as_dict(self) -> dict:
        return {
            "questions": len(self.covered),
            "recall@1": round(self.recall_at_1, 4),
            f"recall@{self.k}": round(self.recall_at_k, 4),
            "mrr": round(self.mrr, 4),
            "misses": [o.as_dict() for o in self.misses],
        }

    def lines(self) -> list[str]:
        """The human-readable report: figures, then each miss with what ranked instead."""
        out = [
            f"questions {len(self.covered)}  recall@1 {self.recall_at_1:.3f}  "
            f"recall@{self.k} {self.recall_at_k:.3f}  MRR {self.mrr:.3f}"
        ]
        for outcome in self.misses:
            where = f"rank {outcome.rank}" if outcome.rank else f"not in the top {self.k}"
            out.append("")
            out.append(f"{where}: {outcome.case.question}")
            out.append(f"  expected: {', '.join(outcome.case.expected)}")
            for position, url in enumerate(outcome.pages[:3], start=1):
                out.append(f"  got {position}: {url}")
            if not outcome.pages:
                out.append("  got nothing")
        return out


def parse_line(line: str, number: int, name: str) -> Case:
    """One question line; a QuestionSetError naming the line when it is malformed."""
    fields = line.split("\t")
    if len(fields) not in (2, 3):
        raise QuestionSetError(
            f"{name}, line {number}: expected a question, a tab and the expected URL(s) (then "
            f"optionally a tab and a phrase), found {len(fields)} tab-separated field(s)"
        )
    question = " ".join(fields[0].split())
    phrase = " ".join(fields[2].split()) if len(fields) == 3 else ""
    if not question:
        raise QuestionSetError(f"{name}, line {number}: the question is empty")
    if fields[1].strip() == OUT_OF_SCOPE:
        return Case(question, (), number, "" if phrase == OUT_OF_SCOPE else phrase)
    expected = tuple(dict.fromkeys(u.strip() for u in fields[1].split(",") if u.strip()))
    if not expected:
        raise QuestionSetError(
            f"{name}, line {number}: no expected URL (write - for an out-of-scope question)"
        )
    bad = [u for u in expected if " " in u]
    if bad:
        raise QuestionSetError(f"{name}, line {number}: not a URL: {bad[0]!r}")
    return Case(question, expected, number, phrase)


def parse_questions(source: str, name: str = "questions") -> list[Case]:
    """The cases of a TSV question set; a malformed line is a QuestionSetError naming it."""
    cases = []
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.strip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        header = [f.strip().lower() for f in line.split("\t")]
        if number == 1 and header in (["question", "expected"], ["question", "expected", "phrase"]):
            continue
        cases.append(parse_line(line, number, name))
        if len(cases) > MAX_QUESTIONS:
            raise QuestionSetError(f"{name}: more than {MAX_QUESTIONS} questions")
    if not cases:
        raise QuestionSetError(f"{name}: no questions")
    return cases


def load_questions(path: Path) -> list[Case]:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"cannot read {path}: {exc}") from exc
    return parse_questions(source, str(path))


def matches(url: str, expected: str) -> bool:
    """Whether a result URL is the expected page (any anchor) or the expected section."""
    if "#" in expected:
        return url.rstrip("/") == expected.rstrip("/") or page_key(url) + "#" + url.split("#", 1)[-1] == (
            page_key(expected) + "#" + expected.split("#", 1)[1]
        )
    return page_key(url) == page_key(expected)


def rank_of(urls: list[str], expected: tuple[str, ...]) -> tuple[list[str], int | None]:
    """(one URL per page in rank order, the 1-based page rank of the first expected match)."""
    pages: list[str] = []
    seen: dict[str, int] = {}
    rank = None
    for url in urls:
        page = page_key(url)
        if page not in seen:
            seen[page] = len(pages) + 1
            pages.append(url)
        if rank is None and any(matches(url, e) for e in expected):
            rank = seen[page]
    return pages, rank


async def evaluate(
    search: DocsSearch,
    cases: list[Case],
    collection: str | Sequence[str] | None,
    k: int = K,
    *,
    tenant: str = "",
) -> Report:
    """Ask every question (top `k` results, as `tenant`'s readers search) and rank the
    expected pages."""
    report = Report(k=k)
    for case in cases:
        results = await search.search(case.question, k=k, tenant=tenant, **scope_of(collection))
        pages, rank = rank_of([r.url for r in results], case.expected)
        report.outcomes.append(Outcome(case, pages, rank))
    return report


def scope_of(collection: str | Sequence[str] | None) -> dict[str, Any]:
    """`search()`'s scope arguments for one collection, several, or (None) all."""
    if collection is None or isinstance(collection, str):
        return {"collection": collection}
    return {"collections": tuple(collection)}
