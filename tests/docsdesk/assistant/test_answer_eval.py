"""`docsdesk eval`'s answer figures: each miss names why the answerer refused."""

from __future__ import annotations

from docsdesk.assistant.answer import OfflineAnswer
from docsdesk.assistant.answer_eval import AnswerOutcome, AnswerReport
from docsdesk.assistant.not_covered import refusal_text
from docsdesk.assistant.offline import OfflineReply
from docsdesk.core.turn import NotCoveredReason
from rag.evaluate import Case


def test_a_false_refusal_is_listed_with_its_reason():
    refused = OfflineAnswer.not_covered(NotCoveredReason.UNSTATED_FIGURE)
    covered = Case("how many retries by default?", ("https://a/x/",), phrase="five attempts")
    out_of_scope = Case("is there a kafka broker?", ())
    report = AnswerReport(
        [
            AnswerOutcome(covered, OfflineReply(refusal_text(refused), refused)),
            AnswerOutcome(out_of_scope, OfflineReply(refusal_text(refused), refused)),
        ]
    )
    figures = report.as_dict()
    assert (figures["false_refusals"], figures["out_of_scope_refused"]) == (1, 1)
    [miss] = figures["answer_misses"]
    assert miss["miss"] == "false refusal" and miss["not_covered_reason"] == "unstated_figure"
    assert "false refusal (unstated_figure): how many retries by default?" in report.lines()
