"""The assistant's model layer: which Agents SDK `Model` answers, built from settings.

- `build_model(settings)`: "offline", "openai:<model>" (Responses API) or
  "openai-chat:<model>" (Chat Completions, with unique message ids).
- `response_events(...)`: turns finished output items into a well-formed Responses
  stream (shared by `OfflineModel` and the tests' scripted model).
- `OfflineModel`: answers without a language model by searching the docs and quoting
  the best passages, so a fresh install works with no API key.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from secrets import token_hex
from typing import Any

import agents
from agents import ModelResponse, ModelSettings, Usage
from agents.models.fake_id import FAKE_RESPONSES_ID
from openai import AsyncOpenAI
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
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from settings import Settings

SEARCH_TOOL = "search_docs"
MODEL_FORMS = '"offline", "openai:<model>" or "openai-chat:<model>"'
TRACING_ENV = "DOCSDESK_AGENTS_TRACING"

# --- building models ------------------------------------------------------------------

_clients: dict[tuple[str, str | None], AsyncOpenAI] = {}
_tracing_configured = False


def build_model(settings: Settings) -> agents.Model:
    """The model named by `settings.resolved_model`; ValueError for an unknown form."""
    _configure_tracing()
    spec = settings.resolved_model.strip()
    if spec == "offline":
        return OfflineModel()
    kind, sep, name = spec.partition(":")
    name = name.strip()
    if sep and name and kind in ("openai", "openai-chat"):
        client = openai_client(settings, spec)
        if kind == "openai":
            return agents.OpenAIResponsesModel(name, client)
        return UniqueIdChatCompletionsModel(name, client)
    raise ValueError(f"Unknown model {spec!r}: DOCSDESK_MODEL must be {MODEL_FORMS}")


def model_settings(settings: Settings) -> ModelSettings:
    """Sampling settings for every model call (values left unset are omitted)."""
    values = {"temperature": settings.temperature, "max_tokens": settings.max_output_tokens}
    return ModelSettings(**{key: value for key, value in values.items() if value is not None})


def is_offline(model: object) -> bool:
    """True for the built-in no-LLM model."""
    return isinstance(model, OfflineModel)


def openai_client(settings: Settings, spec: str = "openai") -> AsyncOpenAI:
    """The process-wide AsyncOpenAI client for this key and base URL (one per pair)."""
    if settings.openai_api_key is None or not settings.openai_api_key.get_secret_value():
        raise ValueError(
            f"Model {spec!r} needs an API key: set OPENAI_API_KEY (any non-empty value "
            "works for a local OpenAI-compatible server named by OPENAI_BASE_URL)"
        )
    key = (settings.openai_api_key.get_secret_value(), settings.openai_base_url or None)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = AsyncOpenAI(api_key=key[0], base_url=key[1])
    return client


def _configure_tracing() -> None:
    """Turn off the Agents SDK trace export (a network call) unless explicitly wanted."""
    global _tracing_configured
    if _tracing_configured:
        return
    enabled = os.environ.get(TRACING_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    agents.set_tracing_disabled(not enabled)
    _tracing_configured = True


# --- Chat Completions with real message ids -----------------------------------------------


def new_message_id() -> str:
    return "msg_" + token_hex(16)


_ID_PREFIXES = {"message": "msg_", "function_call": "fc_", "reasoning": "rs_"}


class _IdRewriter:
    """Replaces the SDK's `__fake_id__` placeholders within one response.

    Every output slot (output_index) gets one fresh id, used by all of its events and by
    its item in the final response, so a stream stays self-consistent; the response
    itself gets one fresh id too.
    """

    def __init__(self) -> None:
        self._ids: dict[int, str] = {}
        self._response_id = "resp_" + token_hex(16)

    def _id(self, index: int, item_type: str | None = None) -> str:
        if index not in self._ids:
            self._ids[index] = _ID_PREFIXES.get(item_type or "", "item_") + token_hex(16)
        return self._ids[index]

    def item(self, index: int, item: Any) -> Any:
        if getattr(item, "id", None) != FAKE_RESPONSES_ID:
            return item
        return item.model_copy(update={"id": self._id(index, getattr(item, "type", None))})

    def event(self, event: ResponseStreamEvent) -> ResponseStreamEvent:
        update: dict[str, Any] = {}
        index = getattr(event, "output_index", None)
        if index is not None:
            item = getattr(event, "item", None)
            if item is not None:
                update["item"] = self.item(index, item)
            if getattr(event, "item_id", None) == FAKE_RESPONSES_ID:
                update["item_id"] = self._id(index)
        response = getattr(event, "response", None)
        if isinstance(response, Response):
            output = [self.item(i, item) for i, item in enumerate(response.output)]
            fixed: dict[str, Any] = {"output": output}
            if response.id == FAKE_RESPONSES_ID:
                fixed["id"] = self._response_id
            update["response"] = response.model_copy(update=fixed)
        return event.model_copy(update=update) if update else event


class UniqueIdChatCompletionsModel(agents.OpenAIChatCompletionsModel):
    """Chat Completions model whose output items carry fresh unique ids.

    The SDK stamps every converted item with `__fake_id__`; ChatKit reuses message ids as
    thread item ids, so without this each turn would overwrite the previous answer.
    Tool `call_id`s are left untouched.
    """

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        response = await super().get_response(*args, **kwargs)
        rewriter = _IdRewriter()
        response.output = [rewriter.item(i, item) for i, item in enumerate(response.output)]
        return response

    async def stream_response(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> AsyncIterator[ResponseStreamEvent]:
        rewriter = _IdRewriter()
        async with aclosing(super().stream_response(*args, **kwargs)) as stream:
            async for event in stream:
                yield rewriter.event(event)


# --- Responses stream synthesis -----------------------------------------------------------


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
    yield ResponseCreatedEvent(
        type="response.created", response=response, sequence_number=next(seq)
    )
    yield ResponseInProgressEvent(
        type="response.in_progress", response=response, sequence_number=next(seq)
    )
    for index, item in enumerate(output):
        if isinstance(item, ResponseOutputMessage):
            yield from _message_events(item, index, seq)
        elif isinstance(item, ResponseFunctionToolCall):
            yield from _function_call_events(item, index, seq)
        else:
            yield ResponseOutputItemAddedEvent(
                type="response.output_item.added", item=item, output_index=index,
                sequence_number=next(seq),
            )
            yield ResponseOutputItemDoneEvent(
                type="response.output_item.done", item=item, output_index=index,
                sequence_number=next(seq),
            )
    completed = response.model_copy(
        update={"status": "completed", "output": list(output), "usage": usage}
    )
    yield ResponseCompletedEvent(
        type="response.completed", response=completed, sequence_number=next(seq)
    )


def _message_events(
    item: ResponseOutputMessage, index: int, seq: Iterator[int]
) -> Iterator[ResponseStreamEvent]:
    opened = item.model_copy(update={"status": "in_progress", "content": []})
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added", item=opened, output_index=index,
        sequence_number=next(seq),
    )
    for part_index, part in enumerate(item.content):
        if not isinstance(part, ResponseOutputText):
            continue
        common = {"item_id": item.id, "output_index": index, "content_index": part_index}
        yield ResponseContentPartAddedEvent(
            type="response.content_part.added",
            part=ResponseOutputText(type="output_text", text="", annotations=[]),
            sequence_number=next(seq), **common,
        )
        for delta in split_deltas(part.text):
            yield ResponseTextDeltaEvent(
                type="response.output_text.delta", delta=delta, logprobs=[],
                sequence_number=next(seq), **common,
            )
        yield ResponseTextDoneEvent(
            type="response.output_text.done", text=part.text, logprobs=[],
            sequence_number=next(seq), **common,
        )
        yield ResponseContentPartDoneEvent(
            type="response.content_part.done", part=part, sequence_number=next(seq), **common
        )
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done", item=item, output_index=index,
        sequence_number=next(seq),
    )


def _function_call_events(
    item: ResponseFunctionToolCall, index: int, seq: Iterator[int]
) -> Iterator[ResponseStreamEvent]:
    item_id = item.id or ""
    opened = item.model_copy(update={"status": "in_progress", "arguments": ""})
    yield ResponseOutputItemAddedEvent(
        type="response.output_item.added", item=opened, output_index=index,
        sequence_number=next(seq),
    )
    yield ResponseFunctionCallArgumentsDeltaEvent(
        type="response.function_call_arguments.delta", delta=item.arguments,
        item_id=item_id, output_index=index, sequence_number=next(seq),
    )
    yield ResponseFunctionCallArgumentsDoneEvent(
        type="response.function_call_arguments.done", arguments=item.arguments,
        item_id=item_id, output_index=index, sequence_number=next(seq),
    )
    yield ResponseOutputItemDoneEvent(
        type="response.output_item.done", item=item, output_index=index,
        sequence_number=next(seq),
    )


def _item_text(item: ResponseOutputItem) -> str:
    if isinstance(item, ResponseOutputMessage):
        return "".join(part.text for part in item.content if isinstance(part, ResponseOutputText))
    if isinstance(item, ResponseFunctionToolCall):
        return item.name + item.arguments
    return ""


# --- reading Responses input ----------------------------------------------------------------

QUOTE_PREFIX = "The user is referring to this in particular:"
PAGE_CONTEXT_PREFIX = "<page_context>"


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    dump = getattr(item, "model_dump", None)
    return dump(exclude_unset=True) if callable(dump) else {}


def _content_text(content: Any) -> str:
    """The text of a message's content (a string or a list of text parts)."""
    if isinstance(content, str):
        return content
    texts = []
    for part in content or []:
        part = _as_dict(part)
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts)


def _is_user_message(item: dict[str, Any]) -> bool:
    return item.get("role") == "user" and item.get("type", "message") == "message"


def _prompt_text(system_instructions: str | None, input: str | list[Any]) -> str:
    """Everything the model was sent, as text (for token estimates)."""
    if isinstance(input, str):
        items = input
    else:
        items = "\n".join(json.dumps(_as_dict(item), default=str) for item in input)
    return f"{system_instructions or ''}\n{items}"


@dataclass
class Turn:
    """What the current turn (everything after the last user message block) holds."""

    question: str
    quote: str
    page_title: str
    search_output: str | None


def read_turn(input: str | list[Any]) -> Turn:
    """Extract the question, its quoted selection / page title and this turn's search output."""
    if isinstance(input, str):
        return Turn(question=input.strip(), quote="", page_title="", search_output=None)
    items = [_as_dict(item) for item in input]
    user_indexes = [i for i, item in enumerate(items) if _is_user_message(item)]
    if not user_indexes:
        return Turn(question="", quote="", page_title="", search_output=None)
    last_user = user_indexes[-1]
    block_start = last_user
    while block_start > 0 and _is_user_message(items[block_start - 1]):
        block_start -= 1

    question = quote = page_title = ""
    for item in items[block_start : last_user + 1]:
        text = _content_text(item.get("content"))
        stripped = text.lstrip()
        if stripped.startswith(QUOTE_PREFIX):
            quote = stripped[len(QUOTE_PREFIX) :].strip()
        elif stripped.startswith(PAGE_CONTEXT_PREFIX):
            page_title = _page_title(stripped)
        elif text.strip():
            question = text.strip()

    search_calls = {
        item.get("call_id")
        for item in items[last_user + 1 :]
        if item.get("type") == "function_call" and item.get("name") == SEARCH_TOOL
    }
    search_output = None
    for item in items[last_user + 1 :]:
        if item.get("type") == "function_call_output" and item.get("call_id") in search_calls:
            search_output = _content_text(item.get("output"))
    return Turn(question=question, quote=quote, page_title=page_title, search_output=search_output)


def _page_title(page_context: str) -> str:
    match = re.search(r"^\s*title:\s*(.+?)\s*$", page_context, re.MULTILINE)
    return match.group(1) if match else ""


# --- search output ---------------------------------------------------------------------------


@dataclass
class Passage:
    """One numbered result of the `search_docs` tool."""

    number: int
    title: str
    url: str
    text: str


_HEADER = re.compile(r"^\[(\d+)\][ \t]+(\S.*?)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse_search_output(output: str) -> list[Passage]:
    """Parse the tool's `[n] title / URL: ... / text` blocks; [] for no results or junk.

    A header counts only at the start or after a blank line, with a number not seen
    yet, and either a "URL:" line right after it or no open code fence (so a passage cut
    off mid-fence cannot swallow the next one, and passage text that happens to contain
    "[2] ..." stays text).
    """
    passages: list[Passage] = []
    body: list[str] = []
    in_fence = False
    lines = output.splitlines()
    for i, line in enumerate(lines):
        match = _HEADER.match(line)
        is_header = (
            match is not None
            and (i == 0 or not lines[i - 1].strip())
            and int(match[1]) not in {p.number for p in passages}
            and (not in_fence or (i + 1 < len(lines) and lines[i + 1].startswith("URL:")))
        )
        if is_header:
            if passages:
                passages[-1].text = "\n".join(body).strip()
            passages.append(Passage(number=int(match[1]), title=match[2], url="", text=""))
            body, in_fence = [], False
            continue
        if not passages:
            continue
        if not body and not passages[-1].url and line.startswith("URL:"):
            passages[-1].url = line[4:].strip()
            continue
        body.append(line)
        if _FENCE.match(line):
            in_fence = not in_fence
    if passages:
        passages[-1].text = "\n".join(body).strip()
    return passages


def clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to at most `limit` characters (with an ellipsis)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def excerpt(text: str, limit: int = 280) -> str:
    """The first one or two sentences of a passage, code fences skipped (kept short if
    the passage is only code)."""
    prose: list[str] = []
    first_code = ""
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            first_code = first_code or line.strip()
            continue
        prose.append(re.sub(r"^\s*#{1,6}\s+", "", line))
    flat = " ".join(" ".join(prose).split())
    if not flat:
        return f"`{clip(first_code, 120)}`" if first_code else ""
    sentences = re.split(r"(?<=[.!?])\s+", flat)
    chosen = sentences[0]
    if len(sentences) > 1 and len(chosen) + 1 + len(sentences[1]) <= limit:
        chosen += " " + sentences[1]
    return clip(chosen, limit)


# --- the offline model --------------------------------------------------------------------

OFFLINE_INTRO = (
    "No language model is configured, so here are the most relevant passages "
    "from the documentation:"
)
OFFLINE_NOTHING_FOUND = "I couldn't find anything relevant to your question in the documentation."
OFFLINE_NO_QUESTION = "Please type a question about the documentation."
OFFLINE_NO_SEARCH = "No language model is configured and documentation search is unavailable."
QUERY_LIMIT = 300
TOP_PASSAGES = 3


def search_query(turn: Turn) -> str:
    """The question, focused by the quoted selection and the page title (<= QUERY_LIMIT)."""
    extras = [clip(" ".join(turn.quote.split()), 120), clip(" ".join(turn.page_title.split()), 80)]
    extras = [extra for extra in extras if extra]
    budget = QUERY_LIMIT - sum(len(extra) + 1 for extra in extras)
    question = clip(" ".join(turn.question.split()), budget)
    return " ".join(part for part in [question, *extras] if part)


def offline_answer(search_output: str) -> str:
    """Quote the top passages with their [n] markers, or say nothing was found."""
    passages = [p for p in parse_search_output(search_output) if excerpt(p.text)]
    if not passages:
        return OFFLINE_NOTHING_FOUND
    lines = [OFFLINE_INTRO]
    for passage in passages[:TOP_PASSAGES]:
        lines.append(f"- **{passage.title}**: {excerpt(passage.text)} [{passage.number}]")
    return "\n\n".join(lines)


class OfflineModel(agents.Model):
    """A model that needs no LLM: it calls `search_docs` with the user's question, then
    answers by quoting the best passages. Deterministic, no I/O, no waiting."""

    name = "offline"

    def reply(self, input: str | list[Any], tools: Sequence[Any]) -> list[ResponseOutputItem]:
        """The output items for this input: a search call, or the quoted answer."""
        turn = read_turn(input)
        if turn.search_output is not None:
            return [message_item(offline_answer(turn.search_output))]
        if not any(getattr(tool, "name", None) == SEARCH_TOOL for tool in tools):
            return [message_item(OFFLINE_NO_SEARCH)]
        query = search_query(turn)
        if not query:
            return [message_item(OFFLINE_NO_QUESTION)]
        return [function_call_item(SEARCH_TOOL, {"query": query})]

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
        output = self.reply(input, tools)
        return model_response(output, usage_for(_prompt_text(system_instructions, input), output))

    async def stream_response(  # type: ignore[override]
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
        output = self.reply(input, tools)
        usage = usage_for(_prompt_text(system_instructions, input), output)
        for event in response_events(output, model=self.name, usage=usage):
            yield event
