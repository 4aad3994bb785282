"""report_not_covered: a model's tool call, not its wording, makes a turn not covered."""

from __future__ import annotations

from datetime import datetime
from typing import get_args

import pytest
from agents import Runner
from chatkit.types import ThreadMetadata

from chatkit_store import PostgresStore
from docsdesk.assistant.definition import Assistant, AssistantLimits
from docsdesk.assistant.report import REPORT_NOT_COVERED, Reason, report_not_covered
from docsdesk.assistant.run import TurnRun
from docsdesk.assistant.search_tool import DocsAgentContext
from docsdesk.core.context import RequestContext
from docsdesk.core.turn import NotCoveredReason, SearchRecord, TurnOutcome
from rag.collections import ServingCollection
from rag.search import DocsSearch
from tests.support.scripted_model import Call, ScriptedModel


def assistant(engine, model, instructions="Answer from the docs.") -> Assistant:
    return Assistant(
        name="t",
        instructions=instructions,
        model=model,
        model_name="scripted",
        collection=ServingCollection(engine, "report-tests"),
        limits=AssistantLimits(),
    )


def agent_context(engine) -> DocsAgentContext:
    return DocsAgentContext(
        thread=ThreadMetadata(id="thr_report", created_at=datetime.now()),
        store=PostgresStore(engine),
        request_context=RequestContext(user_id="report"),
        search=DocsSearch(engine),
        collection="report-tests",
    )


@pytest.mark.parametrize("wording", ["I don't know.", "The documentation does not seem to cover it.", "Nope"])
@pytest.mark.parametrize("instructions", ["Answer from the docs.", "Never admit anything."])
async def test_the_tool_call_sets_the_outcome(engine, wording, instructions):
    model = ScriptedModel([Call(REPORT_NOT_COVERED, {"reason": "unknown_product"}), wording])
    context = agent_context(engine)
    result = await Runner.run(assistant(engine, model, instructions).agent, "Windows?", context=context)
    assert result.final_output == wording
    assert context.outcome is TurnOutcome.NOT_COVERED
    assert REPORT_NOT_COVERED in [tool.name for tool in model.calls[0].tools]
    run = TurnRun(status="ok")
    assert run.outcome(context) is TurnOutcome.NOT_COVERED
    assert run.not_covered_reason(context) is NotCoveredReason.UNKNOWN_PRODUCT


def test_the_tools_reasons_are_the_recorded_ones_inline_in_its_schema():
    assert set(get_args(Reason)) == {r.value for r in NotCoveredReason}
    schema = report_not_covered.params_json_schema
    assert schema["properties"]["reason"]["enum"] == list(get_args(Reason)) and "$defs" not in schema


@pytest.mark.parametrize("arguments", [{}, {"reason": "dunno"}, {"reason": "Unstated_Figure"}])
async def test_a_call_without_a_known_reason_is_not_recorded_and_says_which_are(engine, arguments):
    """The model is told the reasons it may give and can call again; nothing is recorded until
    it does, and the run goes on (no error for the reader)."""
    model = ScriptedModel(
        [Call(REPORT_NOT_COVERED, arguments), Call(REPORT_NOT_COVERED, {"reason": "unstated_figure"}), "No."]
    )
    context = agent_context(engine)
    result = await Runner.run(
        assistant(engine, model).agent, "How many days are traces kept?", context=context
    )
    assert result.final_output == "No."
    [told] = [
        i for i in model.calls[1].input if isinstance(i, dict) and i.get("type") == "function_call_output"
    ]
    assert told["output"].startswith("Not recorded") and "unstated_figure" in told["output"]
    assert context.not_covered_reason is NotCoveredReason.UNSTATED_FIGURE


@pytest.mark.parametrize("wording", ["I don't know.", "The documentation does not seem to cover it."])
async def test_without_the_call_the_wording_decides_nothing(engine, wording):
    context = agent_context(engine)
    await Runner.run(assistant(engine, ScriptedModel([wording])).agent, "Windows?", context=context)
    assert context.outcome is None
    assert TurnRun(status="ok").outcome(context) is TurnOutcome.ANSWERED


def test_outcomes_of_runs_that_did_not_finish_and_of_empty_searches(engine):
    context = agent_context(engine)
    context.searches.append(SearchRecord("zxqv", 0, None))
    assert TurnRun(status="ok").outcome(context) is TurnOutcome.NOT_COVERED  # every search empty
    assert TurnRun(status="ok").not_covered_reason(context) is NotCoveredReason.NO_RESULTS
    context.searches.append(SearchRecord("install", 3, 0.2))
    assert TurnRun(status="ok").outcome(context) is TurnOutcome.ANSWERED
    assert TurnRun(status="ok").not_covered_reason(context) is None
    assert TurnRun(status="cancelled").outcome(context) is TurnOutcome.CANCELLED
    for status in ("error", "timeout", "guardrail", "database_unavailable"):
        assert TurnRun(status=status).outcome(context) is TurnOutcome.ERROR
