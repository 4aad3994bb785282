"""Answer-level evaluation for `docsdesk eval`: what the offline answerer replies to each
question of a set, over the same search and tool output the server gives it.

For each question: the search the offline model makes (its query is the question), the
`search_docs` tool output (passages and "not_in_docs", `format_passages`) and the offline
model's reply (`offline_reply`). Figures: answer hit rate (covered questions with a phrase
whose answer contains it, case and Markdown code/emphasis marks aside), false refusals
(covered questions answered "not covered") and out-of-scope refusals (out-of-scope questions
answered "not covered" citing nothing); each miss listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from docsdesk.assistant.offline import TOP_PASSAGES, OfflineReply, offline_reply
from docsdesk.assistant.search_tool import OFFLINE_TOP_PAGE_SECTIONS, format_passages
from rag.evaluate import scope_of
from rag.search import SearchQuery

if TYPE_CHECKING:
    from rag.evaluate import Case
    from rag.search import DocsSearch

_MARKS = re.compile(r"`+|\*\*")
_CITATION = re.compile(r"\[\d+\]")


def normal(text: str) -> str:
    """`text` for phrase matching: case folded, spaces collapsed, code and bold marks dropped."""
    return " ".join(_MARKS.sub("", text).split()).casefold()


def contains_phrase(answer: str, phrase: str) -> bool:
    return bool(phrase) and normal(phrase) in normal(answer)


@dataclass
class AnswerOutcome:
    case: Case
    reply: OfflineReply

    @property
    def refused(self) -> bool:
        return not self.reply.answer.covered

    @property
    def cites(self) -> bool:
        return bool(self.reply.answer.cited) or bool(_CITATION.search(self.reply.text))

    @property
    def hit(self) -> bool | None:
        """Whether the answer holds the expected phrase (None: out of scope or no phrase)."""
        if self.case.out_of_scope or not self.case.phrase:
            return None
        return not self.refused and contains_phrase(self.reply.text, self.case.phrase)

    @property
    def miss(self) -> str | None:
        """Why this answer counts against the figures, or None."""
        if self.case.out_of_scope:
            return None if self.refused and not self.cites else "out of scope, answered"
        if self.refused:
            return "false refusal"
        return "phrase missing" if self.hit is False else None

    def as_dict(self) -> dict:
        return {
            "question": self.case.question,
            "expected": list(self.case.expected) or "-",
            "phrase": self.case.phrase,
            "outcome": self.reply.outcome,
            "not_covered_reason": self.reply.answer.reason,
            "miss": self.miss,
            "answer": self.reply.text,
        }


@dataclass
class AnswerReport:
    outcomes: list[AnswerOutcome] = field(default_factory=list)

    def _covered(self) -> list[AnswerOutcome]:
        return [o for o in self.outcomes if not o.case.out_of_scope]

    def _out_of_scope(self) -> list[AnswerOutcome]:
        return [o for o in self.outcomes if o.case.out_of_scope]

    @property
    def phrased(self) -> int:
        return sum(o.hit is not None for o in self.outcomes)

    @property
    def hit_rate(self) -> float | None:
        return sum(o.hit is True for o in self.outcomes) / self.phrased if self.phrased else None

    @property
    def false_refusal_rate(self) -> float | None:
        covered = self._covered()
        return sum(o.refused for o in covered) / len(covered) if covered else None

    @property
    def out_of_scope_refusal_rate(self) -> float | None:
        out = self._out_of_scope()
        return sum(o.refused and not o.cites for o in out) / len(out) if out else None

    @property
    def misses(self) -> list[AnswerOutcome]:
        return [o for o in self.outcomes if o.miss is not None]

    def as_dict(self) -> dict:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "covered_questions": len(self._covered()),
            "out_of_scope_questions": len(self._out_of_scope()),
            "questions_with_phrase": self.phrased,
            "answer_hit_rate": rounded(self.hit_rate),
            "false_refusals": sum(o.refused for o in self._covered()),
            "false_refusal_rate": rounded(self.false_refusal_rate),
            "out_of_scope_refused": sum(o.refused and not o.cites for o in self._out_of_scope()),
            "out_of_scope_refusal_rate": rounded(self.out_of_scope_refusal_rate),
            "answer_misses": [o.as_dict() for o in self.misses],
        }

    def lines(self) -> list[str]:
        """The human-readable report: the figures, then each miss with its answer's opening."""

        def figure(value: float | None, of: int) -> str:
            return "-" if value is None else f"{value:.3f} (of {of})"

        out = [
            f"answers: phrase hit rate {figure(self.hit_rate, self.phrased)}  "
            f"false refusals {figure(self.false_refusal_rate, len(self._covered()))}  "
            f"out-of-scope refused {figure(self.out_of_scope_refusal_rate, len(self._out_of_scope()))}"
        ]
        for outcome in self.misses:
            out.append("")
            why = f" ({outcome.reply.answer.reason})" if outcome.refused else ""
            out.append(f"{outcome.miss}{why}: {outcome.case.question}")
            if outcome.case.phrase:
                out.append(f"  phrase: {outcome.case.phrase}")
            answer = " ".join(outcome.reply.text.split())
            out.append(f"  answer: {answer[:240]}{'…' if len(answer) > 240 else ''}")
        return out


async def answer_question(
    search: DocsSearch, question: str, collection: str | Sequence[str] | None, *, tenant: str = ""
) -> OfflineReply:
    """The offline model's reply to `question`: its search, the tool output, its answer step."""
    return offline_reply(await tool_output(search, question, collection, tenant=tenant), question)


async def tool_output(
    search: DocsSearch,
    question: str,
    collection: str | Sequence[str] | None,
    page_sections: int = OFFLINE_TOP_PAGE_SECTIONS,
    *,
    tenant: str = "",
) -> str:
    """The offline model's `search_docs` output for `question` (its search with the first
    page's further sections, the words no page uses), numbered from 1, without a turn; as
    `tenant`'s readers search."""
    scope = scope_of(collection)
    found = await search.find(
        SearchQuery.of(question, k=TOP_PASSAGES, **scope, page_sections=page_sections, tenant=tenant)
    )
    unknown = await search.unknown_words(question, **scope, tenant=tenant)
    numbered = list(enumerate([*found.results, *found.top_page], start=1))
    more = numbered[len(found.results) :]
    return format_passages(question, numbered[: len(found.results)], unknown, more=more)


async def evaluate_answers(
    search: DocsSearch, cases: list[Case], collection: str | Sequence[str] | None, *, tenant: str = ""
) -> AnswerReport:
    """Answer every question as the offline model does (as `tenant`'s readers ask) and score
    the answers."""
    report = AnswerReport()
    for case in cases:
        reply = await answer_question(search, case.question, collection, tenant=tenant)
        report.outcomes.append(AnswerOutcome(case, reply))
    return report
