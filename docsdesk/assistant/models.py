"""The assistant's model layer: which Agents SDK `Model` answers, built from settings:
"offline" (docsdesk/assistant/offline.py), "openai:<model>" (Responses API) or
"openai-chat:<model>" (Chat Completions, with unique message ids)."""

import os
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from secrets import token_hex
from typing import Any, cast

import agents
from agents import ModelResponse, ModelSettings
from agents.models.fake_id import FAKE_RESPONSES_ID
from openai import AsyncOpenAI
from openai.types.responses import (
    Response,
    ResponseStreamEvent,
)

from docsdesk.assistant.offline import OfflineModel
from docsdesk.core.settings import Settings

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
    """Sampling settings for every model call (None: the model's default)."""
    return ModelSettings(temperature=settings.temperature, max_tokens=settings.max_output_tokens)


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

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[ResponseStreamEvent]:
        rewriter = _IdRewriter()
        # Declared an AsyncIterator; the SDK's is an async generator (`aclose`).
        events = cast(AsyncGenerator[ResponseStreamEvent, None], super().stream_response(*args, **kwargs))
        async with aclosing(events) as stream:
            async for event in stream:
                yield rewriter.event(event)
