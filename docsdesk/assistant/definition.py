"""What an assistant is: its instructions, the collections it answers from, its model, its
limits, and how it reports a turn's outcome. Built once at start-up (`AssistantRegistry.
from_settings`) and looked up per request by the name the request context carries.

`Assistants` is the small interface the ChatKit server depends on (in the style of
chatkit-python's `Store`); `AssistantRegistry` is the one implementation: a fixed set, today
the single assistant "default" configured by the DOCSDESK_* settings."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from agents import Agent, Model, ModelSettings, OutputGuardrail, Tool

from docsdesk.assistant.models import build_model, is_offline, model_settings
from docsdesk.assistant.report import report_not_covered, request_person
from docsdesk.assistant.search_tool import DocsAgentContext, search_docs
from docsdesk.core.context import DEFAULT_ASSISTANT
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from rag.collections import ServingCollection

MAX_AGENT_TURNS = 6
TITLE_MAX_TOKENS = 24


@dataclass(frozen=True)
class AssistantLimits:
    """Per-turn limits: passages per search, the history budget (tokens), the deadline for
    a whole turn, and how many model calls one turn may make."""

    results_per_search: int = 5
    history_tokens: int = 6_000
    deadline_seconds: float = 120.0
    max_agent_turns: int = MAX_AGENT_TURNS


@dataclass(frozen=True)
class Assistant:
    """One documentation assistant.

    Outcome reporting: with `reports_not_covered`, the agent has the `report_not_covered`
    tool; calling it is how a turn is recorded as not covered by the documentation (besides
    every search finding nothing). Nothing is read back from the answer's wording."""

    name: str
    instructions: str
    model: Model
    model_name: str  # as configured ("offline", "openai:gpt-4.1"): turn records, metrics
    collection: ServingCollection  # the collection it answers from (the own docs until filled)
    limits: AssistantLimits = field(default_factory=AssistantLimits)
    model_settings: ModelSettings = field(default_factory=ModelSettings)
    title_instructions: str | None = None  # None: titles from the first message's words
    reports_not_covered: bool = True
    output_guardrails: tuple[OutputGuardrail[DocsAgentContext], ...] = ()
    follow_ups: bool = True  # suggest follow-up questions after an answer (`follow_ups = false`: off)
    mcp_public: bool = False  # MCP tools and llms.txt without a key (`mcp_public = true`)
    # What the reader's widget shows (docsdesk.toml; /embed.js's startScreen) and who may
    # call it: a browser origin (besides the deployment's), a turn rate (None: the deployment's).
    title: str | None = None
    greeting: str | None = None
    starter_prompts: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    rate_limit_turns: str | None = None
    retention_days: int | None = None
    handoff: Mapping[str, Any] | None = None  # [assistants.NAME.handoff] (issue 21), as data

    @property
    def collections(self) -> tuple[str, ...]:
        """The collections it may answer from, by configured name."""
        return self.collection.configured_all

    @property
    def model_label(self) -> str:
        """The provider prefix ("offline", "openai", "openai-chat"): a metric label."""
        return self.model_name.split(":", 1)[0]

    @property
    def tools(self) -> list[Tool]:
        reports = [report_not_covered, request_person] if self.reports_not_covered else []
        return [search_docs, *reports]

    @cached_property
    def agent(self) -> Agent[DocsAgentContext]:
        """The agent that answers (built once: an Agent is reusable across runs)."""
        return Agent[DocsAgentContext](
            name="docsdesk",
            instructions=self.instructions,
            model=self.model,
            model_settings=self.model_settings,
            tools=self.tools,
            output_guardrails=list(self.output_guardrails),
        )

    @cached_property
    def titler(self) -> Agent | None:
        """The agent that titles a conversation, or None for heuristic titles."""
        if self.title_instructions is None or is_offline(self.model):
            return None
        return Agent(
            name="docsdesk-title",
            instructions=self.title_instructions,
            model=self.model,
            model_settings=self.model_settings.resolve(
                ModelSettings(max_tokens=TITLE_MAX_TOKENS, temperature=0.2)
            ),
        )


class Assistants(ABC):
    """Where the server finds the assistant a request names."""

    @abstractmethod
    def get(self, name: str) -> Assistant:
        """The assistant called `name`; ApiError 404 when there is none."""

    @abstractmethod
    def names(self) -> list[str]:
        """Every assistant's name."""

    @property
    @abstractmethod
    def default(self) -> str:
        """The name of the assistant POST /chatkit serves."""


class AssistantRegistry(Assistants):
    """A set of assistants, keyed by name. `replace_all` swaps the whole set at once (a
    config reload): a turn that already looked its assistant up keeps that definition."""

    def __init__(self, assistants: Iterable[Assistant] = (), default: str = DEFAULT_ASSISTANT) -> None:
        self._by_name: dict[str, Assistant] = {}
        self._default = default
        for assistant in assistants:
            self.register(assistant)

    def register(self, assistant: Assistant) -> None:
        """Add `assistant` (replacing one of the same name)."""
        self._by_name = {**self._by_name, assistant.name: assistant}

    def replace_all(self, assistants: Iterable[Assistant], default: str) -> None:
        by_name = {a.name: a for a in assistants}
        if default not in by_name:
            raise ValueError(f"no assistant named {default!r} to be the default")
        self._by_name, self._default = by_name, default

    def get(self, name: str) -> Assistant:
        assistant = self._by_name.get(name)
        if assistant is None:
            raise ApiError(404, "not_found", f"no assistant named {name!r}")
        return assistant

    def names(self) -> list[str]:
        return list(self._by_name)

    @property
    def default(self) -> str:
        return self._default

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        collection: ServingCollection,
        instructions: str,
        title_instructions: str | None = None,
        model: Model | None = None,
    ) -> AssistantRegistry:
        """Today's deployment: one assistant, "default", from the DOCSDESK_* settings."""
        return cls([default_assistant(settings, collection, instructions, title_instructions, model)])


def default_assistant(
    settings: Settings,
    collection: ServingCollection,
    instructions: str,
    title_instructions: str | None = None,
    model: Model | None = None,
) -> Assistant:
    """The assistant the settings describe (DOCSDESK_MODEL, DOCSDESK_COLLECTION, limits)."""
    return Assistant(
        name=DEFAULT_ASSISTANT,
        instructions=instructions,
        model=model if model is not None else build_model(settings),
        model_name=settings.resolved_model,
        collection=collection,
        limits=AssistantLimits(
            results_per_search=settings.search_results,
            history_tokens=settings.history_tokens,
            deadline_seconds=settings.turn_timeout_seconds,
        ),
        model_settings=model_settings(settings),
        title_instructions=title_instructions,
    )
