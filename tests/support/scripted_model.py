"""A scripted Agents SDK model for tests: each model call plays the next step.

    model = ScriptedModel([
        Call("search_docs", {"query": "install"}),   # first call: a tool call
        "Run `pip install docsdesk` [1].",            # second call: a streamed text reply
    ])

A step is a text reply (str), a function call (`Call`), a mix (a list of those, in
output order), an exception to raise (simulating a model failure), or a callable
`(system_instructions, input, tools) -> step` that can inspect what the model was sent.
Every call's `system_instructions`, `input` and `tools` are kept in `model.calls`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import agents
from openai.types.responses import ResponseOutputItem

from docsdesk.assistant.stream import (
    SynthesizedModel,
    function_call_item,
    message_item,
    model_response,
    response_events,
    usage_for,
)


@dataclass
class Call:
    """A function call the scripted model makes (`call_id` generated when omitted)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None


Step = str | Call | list[str | Call] | BaseException | Callable[..., Any]


@dataclass
class ModelCall:
    """What the model was given on one call."""

    system_instructions: str | None
    input: str | list[Any]
    tools: list[Any]


class ScriptedModel(SynthesizedModel):
    """Plays `steps` in order, one per `get_response` / `stream_response` call."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = list(steps)
        self.calls: list[ModelCall] = []

    name = "scripted"

    def reply(
        self, system_instructions: str | None, input: str | list[Any], tools: list[Any]
    ) -> list[ResponseOutputItem]:
        self.calls.append(ModelCall(system_instructions, _snapshot(input), list(tools)))
        if not self.steps:
            raise AssertionError(f"ScriptedModel ran out of steps on call {len(self.calls)}")
        step = self.steps.pop(0)
        if callable(step) and not isinstance(step, BaseException):
            step = step(system_instructions, input, tools)
        if isinstance(step, BaseException):
            raise step
        parts = step if isinstance(step, list) else [step]
        output: list[ResponseOutputItem] = []
        for part in parts:
            if isinstance(part, Call):
                output.append(function_call_item(part.name, part.arguments, part.call_id))
            elif isinstance(part, str):
                output.append(message_item(part))
            else:
                raise TypeError(f"Unsupported ScriptedModel step part: {part!r}")
        return output


def _snapshot(input: str | list[Any]) -> str | list[Any]:
    """A copy of the input list, so later mutation by the runner can't change the record."""
    return input if isinstance(input, str) else list(input)


class GatedModel(agents.Model):
    """Titles at once; streams each answer only once `gate` is set (a turn held open)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def get_response(self, *args, **kwargs):
        output = [message_item("A title")]
        return model_response(output, usage_for("title", output))

    async def stream_response(self, *args, **kwargs):
        await self.gate.wait()
        output = [message_item("The answer.")]
        for event in response_events(output, model="gated", usage=usage_for("question", output)):
            yield event
