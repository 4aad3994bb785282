"""The `report_not_covered` tool: how the model declares that the documentation does not
answer the question. The declaration is the turn's recorded outcome (`TurnOutcome`), set on
the turn's context; the wording of the reply plays no part in it."""

from __future__ import annotations

import time

from agents import RunContextWrapper, function_tool

from docsdesk.assistant.search_tool import DocsAgentContext
from docsdesk.core.turn import TurnOutcome
from docsdesk.ops.metrics import observe_tool

REPORT_NOT_COVERED = "report_not_covered"
ACKNOWLEDGED = (
    "Recorded: the documentation does not cover this question. Now tell the reader so in one "
    "or two sentences, without guessing; you may suggest what to search for instead."
)


@function_tool(name_override=REPORT_NOT_COVERED, failure_error_function=None)
async def report_not_covered(ctx: RunContextWrapper[DocsAgentContext]) -> str:
    """Declare that the documentation does not cover the reader's question.

    Call it once, before you reply, when your searches found nothing that answers the
    question (after trying other words). Do not call it when the passages answer the
    question, even partly: then answer and cite them. After calling it, tell the reader
    briefly that the documentation does not seem to cover this; do not guess.
    """
    started = time.perf_counter()
    ctx.context.outcome = TurnOutcome.NOT_COVERED
    observe_tool(REPORT_NOT_COVERED, "ok", time.perf_counter() - started)
    return ACKNOWLEDGED
