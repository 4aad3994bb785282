"""What one assistant turn produced, as values every layer can share: its outcome and the
searches it made. The turn record (docsdesk.insights.turns) stores both."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class TurnOutcome(StrEnum):
    """How a turn ended. `not_covered` is declared by the assistant itself (its
    `report_not_covered` tool), or follows from every search finding nothing; it is never
    read back from the answer's wording."""

    ANSWERED = "answered"
    NOT_COVERED = "not_covered"
    ERROR = "error"
    CANCELLED = "cancelled"
    # A greeting, thanks, goodbye or acknowledgement ("thanks!"), decided from the reader's
    # message (docsdesk.assistant.intents.small_talk): not a question, whatever the model replied.
    SMALL_TALK = "small_talk"


class NotCoveredReason(StrEnum):
    """Why a turn was not covered, for the docs team: what is missing tells them what to write.
    Set with the outcome by the code that decided it (the offline answerer, the model's
    `report_not_covered` call, an MCP search), never read back from the reply."""

    NO_RESULTS = "no_results"
    ABSENT_TERMS = "absent_terms"
    UNKNOWN_PRODUCT = "unknown_product"
    NO_MATCHING_SECTION = "no_matching_section"
    UNSTATED_FIGURE = "unstated_figure"

    @property
    def label(self) -> str:
        """What it means, in the words of the insights report."""
        return _REASON_LABELS[self]


_REASON_LABELS = {
    NotCoveredReason.NO_RESULTS: "the search found nothing",
    NotCoveredReason.ABSENT_TERMS: "its key words are on no page",
    NotCoveredReason.UNKNOWN_PRODUCT: "it names something the docs never mention",
    NotCoveredReason.NO_MATCHING_SECTION: "the docs use its words, but no section answers it",
    NotCoveredReason.UNSTATED_FIGURE: "it asks for a figure (a limit, default, count or date) no page states",
}


class TurnChannel(StrEnum):
    """Where a turn came from: a conversation in the chat widget (the ChatKit API), or a
    search a coding agent made over the Model Context Protocol (docsdesk.mcp), which belongs
    to no conversation."""

    WIDGET = "widget"
    MCP = "mcp"


@dataclass
class SearchRecord:
    """One search the assistant made in a turn: the query, how many passages it found, the
    best score, and the query's words that no page uses."""

    query: str
    results: int
    best_score: float | None
    not_in_docs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "query": self.query,
            "results": self.results,
            "best_score": self.best_score,
            "not_in_docs": self.not_in_docs,
        }
