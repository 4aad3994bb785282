"""Synthesised Responses streams: finished output items (messages, function calls) turned
into the well-formed event sequence the Agents SDK and ChatKit expect. Shared by the offline
model and the tests' scripted model and fake OpenAI server."""

import json
import math
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from secrets import token_hex
from typing import Any

import agents
from agents import ModelResponse, ModelSettings, Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseInProgressEvent,
    ResponseOutputItem,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
    ResponseUsage,
)
from openai.types.responses.response_usage import (
    InputTokensDetails,
    OutputTokensDetails,
)


def new_message_id() -> str:
    return "msg_" + token_hex(16)


def message_item(text: str, item_id: str | None = None) -> ResponseOutputMessage:
    """A completed assistant message holding one text part."""
    return ResponseOutputMessage(
        id=item_id or new_message_id(),
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


def function_call_item(
    name: str, arguments: dict[str, Any] | str, call_id: str | None = None
) -> ResponseFunctionToolCall:
    """A completed function call; `arguments` may be a dict (JSON-encoded here)."""
    return ResponseFunctionToolCall(
        id="fc_" + token_hex(16),
        call_id=call_id or "call_" + token_hex(12),
        type="function_call",
        name=name,
        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments),
        status="completed",
    )


def split_deltas(text: str) -> list[str]:
    """Cut text after each sentence end (not before a `[n]` marker) or newline; the
    pieces join back to `text`."""
    pieces, start = [], 0
    for match in re.finditer(r"(?:[.!?](?=\s)(?!\s+\[\d+\])|\n)\s*", text):
        pieces.append(text[start : match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


def estimate_tokens(text: str) -> int:
    """Rough token count (~4 characters per token)."""
    return math.ceil(len(text) / 4)


def usage_for(input_text: str, output: Sequence[ResponseOutputItem]) -> ResponseUsage:
    """Estimated usage for a synthesized response."""
    produced = "".join(_item_text(item) for item in output)
    input_tokens, output_tokens = estimate_tokens(input_text), estimate_tokens(produced)
    return ResponseUsage(
        input_tokens=input_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=0, cache_write_tokens=0),
        output_tokens=output_tokens,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
        total_tokens=input_tokens + output_tokens,
    )


def model_response(output: list[ResponseOutputItem], usage: ResponseUsage) -> ModelResponse:
    """The non-streaming counterpart of `response_events`."""
    return ModelResponse(
        output=output,
        usage=Usage(
            requests=1,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            total_tokens=usage.total_tokens,
        ),
        response_id=None,
    )


def response_events(
    output: Sequence[ResponseOutputItem], *, model: str, usage: ResponseUsage | None = None
) -> Iterator[ResponseStreamEvent]:
    """The full Responses event stream announcing `output`, ending in response.completed.

    Messages stream their text in several deltas (per sentence/line); function calls
    stream their arguments. Sequence numbers, output and content indexes are consistent.
    """
    seq = iter(range(1 << 62))
    response = Response(
        id="resp_" + token_hex(16),
        object="response",
        created_at=time.time(),
        model=model,
        status="in_progress",
        output=[],
        tools=[],
        tool_choice="auto",
        parallel_tool_calls=False,
    )
    yield ResponseCreatedEvent(type="response.created", response=response, sequence_number=next(seq))
    yield ResponseInProgressEvent(type="response.in_progress", response=response, sequence_number=next(seq))
    for index, item in enumerate(output):
        if isinstance(item, ResponseOutputMessage):
            yield from _message_events(item, index, seq)
        elif isinstance(item, ResponseFunctionToolCall):
            yield from _function_call_events(item, index, seq)
        else:
            yield ResponseOutputItemAddedEvent(
                type="response.output_item.added",
                item=item,
                output_index=index,
                sequence_number=next(seq),
            )
            yield ResponseOutputItemDoneEvent(
                type="response.output_item.done",
                item=item,
                output_index=index,
                sequence_number=next(seq),
            )
    completed = response.model_copy(update={"status": "completed", "output": list(output), "usage": usage})
    yield ResponseCompletedEvent(type="response.completed", response=completed, sequence_number=next(seq))


def _message_events(
    item: ResponseOutputMessage, index: int, seq: Iterator[int]
) -> Iterator[ResponseStreamEvent]:
    opened = item.model_copy(update={"status": "in_progress", "content": []})
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added",
        item=opened,
        output_index=index,
        sequence_number=next(seq),
    )
    for part_index, part in enumerate(item.content):
        if not isinstance(part, ResponseOutputText):
            continue
        common = {"item_id": item.id, "output_index": index, "content_index": part_index}
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added",
            part=ResponseOutputText(type="output_text", text="", annotations=[]),
            sequence_number=next(seq),
            **common,
        )
        for delta in split_deltas(part.text):
            yield ResponseTextDeltaEvent(
                type="response.output_text.delta",
                delta=delta,
                logprobs=[],
                sequence_number=next(seq),
                **common,
            )
        yield ResponseTextDoneEvent(
            type="response.output_text.done",
            text=part.text,
            logprobs=[],
            sequence_number=next(seq),
            **common,
        )
        yield ResponseContentPartDoneEvent(
            type="response.content_part.done", part=part, sequence_number=next(seq), **common
        )
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done",
        item=item,
        output_index=index,
        sequence_number=next(seq),
    )


def _function_call_events(
    item: ResponseFunctionToolCall, index: int, seq: Iterator[int]
) -> Iterator[ResponseStreamEvent]:
    item_id = item.id or ""
    opened = item.model_copy(update={"status": "in_progress", "arguments": ""})
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added",
        item=opened,
        output_index=index,
        sequence_number=next(seq),
    )
    yield ResponseFunctionCallArgumentsDeltaEvent(
        type="response.function_call_arguments.delta",
        delta=item.arguments,
        item_id=item_id,
        output_index=index,
        sequence_number=next(seq),
    )
    yield ResponseFunctionCallArgumentsDoneEvent(
        type="response.function_call_arguments.done",
        arguments=item.arguments,
        item_id=item_id,
        output_index=index,
        sequence_number=next(seq),
    )
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done",
        item=item,
        output_index=index,
        sequence_number=next(seq),
    )


def _item_text(item: ResponseOutputItem) -> str:
    if isinstance(item, ResponseOutputMessage):
        return "".join(part.text for part in item.content if isinstance(part, ResponseOutputText))
    if isinstance(item, ResponseFunctionToolCall):
        return item.name + item.arguments
    return ""


def as_dict(item: Any) -> dict[str, Any]:
    """An input item as a plain dict (the runner passes dicts or pydantic models)."""
    if isinstance(item, dict):
        return item
    dump = getattr(item, "model_dump", None)
    return dump(exclude_unset=True) if callable(dump) else {}


def prompt_text(system_instructions: str | None, input: str | list[Any]) -> str:
    """Everything the model was sent, as text (for token estimates)."""
    if isinstance(input, str):
        items = input
    else:
        items = "\n".join(json.dumps(as_dict(item), default=str) for item in input)
    return f"{system_instructions or ''}\n{items}"


class SynthesizedModel(agents.Model):
    """An Agents SDK model whose reply is computed locally as finished output items, served
    as a plain response or as a well-formed Responses stream. Subclasses define `reply`."""

    name = "synthesized"

    def reply(
        self, system_instructions: str | None, input: str | list[Any], tools: Sequence[Any]
    ) -> list[ResponseOutputItem]:
        raise NotImplementedError

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: ModelSettings,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> ModelResponse:
        output = self.reply(system_instructions, input, tools)
        return model_response(output, usage_for(prompt_text(system_instructions, input), output))

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: ModelSettings,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> AsyncIterator[ResponseStreamEvent]:
        output = self.reply(system_instructions, input, tools)
        usage = usage_for(prompt_text(system_instructions, input), output)
        for event in response_events(output, model=self.name, usage=usage):
            yield event
