"""The `report_not_covered` tool: how the model declares that the documentation does not
answer the question, and why (`NotCoveredReason`). The declaration is the turn's recorded
outcome (`TurnOutcome`) and reason, set on the turn's context; the wording of the reply plays
no part in it. `request_person` likewise records that the reader asked for a person
(docsdesk.handoff then offers the hand-off form)."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

from agents import RunContextWrapper, function_tool

from docsdesk.assistant.search_tool import DocsAgentContext
from docsdesk.core.turn import NotCoveredReason, TurnOutcome
from docsdesk.ops.metrics import observe_tool

REPORT_NOT_COVERED = "report_not_covered"
ACKNOWLEDGED = (
    "Recorded: the documentation does not cover this question. Now tell the reader so in one "
    "or two sentences, without guessing; you may suggest what to search for instead."
)


# The reasons as the tool's parameter: a plain enum of strings in its JSON schema (no `$ref`,
# which not every model provider accepts); the same values as `NotCoveredReason`.
Reason = Literal["no_results", "absent_terms", "unknown_product", "no_matching_section", "unstated_figure"]


def _not_recorded(ctx: RunContextWrapper[Any], error: Exception) -> str:
    """What the model reads when its call could not be taken (a reason outside the list)."""
    reasons = ", ".join(r.value for r in NotCoveredReason)
    return f"Not recorded: {str(error).splitlines()[0][:200]}. Call it again with `reason` one of: {reasons}."


@function_tool(name_override=REPORT_NOT_COVERED, failure_error_function=_not_recorded)
async def report_not_covered(ctx: RunContextWrapper[DocsAgentContext], reason: Reason) -> str:
    """Declare that the documentation does not cover the reader's question, and why.

    Call it once, before you reply, when your searches found nothing that answers the
    question (after trying other words). Do not call it when the passages answer the
    question, even partly: then answer and cite them. After calling it, tell the reader
    briefly that the documentation does not seem to cover this; do not guess.

    Args:
        reason: What is missing, for the docs team: "no_results" (the searches found nothing),
            "absent_terms" (the question's key words are on no page), "unknown_product" (it
            names a product, service or tool the docs never mention), "no_matching_section"
            (the docs use its words, but no passage answers it), "unstated_figure" (it asks for
            a number, such as a limit, default, count, duration or date, that no passage states).
    """
    started = time.perf_counter()
    ctx.context.outcome = TurnOutcome.NOT_COVERED
    ctx.context.not_covered_reason = NotCoveredReason(reason)
    observe_tool(REPORT_NOT_COVERED, "ok", time.perf_counter() - started)
    return ACKNOWLEDGED


REQUEST_PERSON = "request_person"


@function_tool(name_override=REQUEST_PERSON, failure_error_function=None)
async def request_person(ctx: RunContextWrapper[DocsAgentContext]) -> str:
    """Record that the reader asks to talk to a person (support, a human, someone from the team).

    Call it once when the reader asks to reach a person, in any wording. The result says
    whether a form to send this conversation to the support team will be shown below your
    reply ("form_shown"); tell the reader so in one sentence, or, when it is not shown, that
    no support channel is set up here.
    """
    started = time.perf_counter()
    ctx.context.asked_for_person = True
    observe_tool(REQUEST_PERSON, "ok", time.perf_counter() - started)
    return json.dumps({"form_shown": ctx.context.handoff_available})
