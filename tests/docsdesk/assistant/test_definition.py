"""The assistant definition and registry: built once from settings, looked up by name."""

from __future__ import annotations

from dataclasses import replace

import pytest

from docsdesk.assistant.definition import AssistantRegistry
from docsdesk.assistant.models import is_offline
from docsdesk.core.context import DEFAULT_ASSISTANT
from docsdesk.core.errors import ApiError
from rag.collections import ServingCollection


def test_the_default_assistant_comes_from_settings(settings, engine):
    tuned = settings.model_copy(
        update={"search_results": 3, "history_tokens": 900, "turn_timeout_seconds": 7.0}
    )
    registry = AssistantRegistry.from_settings(
        tuned, ServingCollection(engine, "docs-x"), "Be helpful.", "Title it."
    )
    assistant = registry.get(DEFAULT_ASSISTANT)
    assert registry.names() == [DEFAULT_ASSISTANT]
    assert assistant.instructions == "Be helpful." and assistant.collections == ("docs-x",)
    assert (assistant.limits.results_per_search, assistant.limits.history_tokens) == (3, 900)
    assert assistant.limits.deadline_seconds == 7.0
    assert is_offline(assistant.model) and assistant.model_label == "offline"
    assert assistant.titler is None  # the offline model: heuristic titles
    assert [tool.name for tool in assistant.agent.tools] == [
        "search_docs",
        "report_not_covered",
        "request_person",
    ]
    assert assistant.agent is assistant.agent  # built once
    assert assistant.agent.instructions == "Be helpful."


def test_an_unknown_assistant_is_a_404_and_registering_replaces(settings, engine):
    registry = AssistantRegistry.from_settings(settings, ServingCollection(engine, "docs-y"), "One.")
    with pytest.raises(ApiError) as missing:
        registry.get("nope")
    assert missing.value.status == 404 and missing.value.code == "not_found"
    registry.register(replace(registry.get(DEFAULT_ASSISTANT), instructions="Two."))
    assert registry.get(DEFAULT_ASSISTANT).agent.instructions == "Two."
    silent = replace(registry.get(DEFAULT_ASSISTANT), name="quiet", reports_not_covered=False)
    registry.register(silent)
    assert [tool.name for tool in registry.get("quiet").agent.tools] == ["search_docs"]
