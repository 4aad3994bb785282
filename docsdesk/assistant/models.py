"""The assistant's model layer: which Agents SDK `Model` answers, through the SDK's provider
interface. A `MultiProvider` maps each prefix of DOCSDESK_MODEL to a provider: "offline"
(docsdesk.assistant.offline), "openai:<model>" (Responses API) and "openai-chat:<model>"
(Chat Completions, wrapped so every output item gets a unique id)."""

import os
from collections.abc import AsyncIterator
from contextlib import aclosing
from secrets import token_hex
from typing import Any

import agents
from agents import Model, ModelProvider, ModelResponse, ModelSettings, MultiProvider
from agents.exceptions import UserError
from agents.models.fake_id import FAKE_RESPONSES_ID
from agents.models.multi_provider import MultiProviderMap
from openai.types.responses import (
    Response,
    ResponseStreamEvent,
)

from docsdesk.assistant.offline import OfflineModel
from docsdesk.core.openai_client import openai_client
from docsdesk.core.settings import Settings

MODEL_FORMS = '"offline", "openai:<model>" or "openai-chat:<model>"'
TRACING_ENV = "DOCSDESK_AGENTS_TRACING"
OFFLINE = "offline"

# --- providers --------------------------------------------------------------------------

_tracing_configured = False


class OfflineProvider(ModelProvider):
    """ "offline": the built-in model that needs no LLM."""

    def get_model(self, model_name: str | None) -> Model:
        return OfflineModel()


class OpenAIClientProvider(ModelProvider):
    """An OpenAI API (Responses or Chat Completions) through the one shared client, built on
    first use (so an offline deployment needs no key)."""

    def __init__(self, settings: Settings, *, responses: bool) -> None:
        self.settings = settings
        self.responses = responses

    def get_model(self, model_name: str | None) -> Model:
        if not model_name:
            raise UserError(f"no model name: DOCSDESK_MODEL must be {MODEL_FORMS}")
        client = openai_client(self.settings)
        if self.responses:
            return agents.OpenAIResponsesModel(model_name, client)
        return UniqueIds(agents.OpenAIChatCompletionsModel(model_name, client))


def model_provider(settings: Settings) -> MultiProvider:
    """The provider map: one provider per DOCSDESK_MODEL prefix."""
    providers = MultiProviderMap()  # type: ignore[no-untyped-call]  # the SDK's __init__ is unannotated
    providers.add_provider(OFFLINE, OfflineProvider())
    providers.add_provider("openai", OpenAIClientProvider(settings, responses=True))
    providers.add_provider("openai-chat", OpenAIClientProvider(settings, responses=False))
    return MultiProvider(provider_map=providers)


def build_model(settings: Settings, spec: str | None = None) -> Model:
    """The model named by `spec` (default `settings.resolved_model`); ValueError for an
    unknown form or a missing key."""
    _configure_tracing()
    spec = (spec if spec is not None else settings.resolved_model).strip()
    kind, sep, name = spec.partition(":")
    name = name.strip()
    if spec != OFFLINE and not (sep and name and kind in ("openai", "openai-chat")):
        raise ValueError(f"Unknown model {spec!r}: DOCSDESK_MODEL must be {MODEL_FORMS}")
    try:
        # MultiProvider names are "<prefix>/<model>".
        return model_provider(settings).get_model(f"{OFFLINE}/" if spec == OFFLINE else f"{kind}/{name}")
    except (UserError, ValueError) as exc:
        raise ValueError(f"Model {spec!r}: {exc}") from None


def model_settings(settings: Settings) -> ModelSettings:
    """Sampling settings for every model call (values left unset stay None, the defaults)."""
    return ModelSettings(temperature=settings.temperature, max_tokens=settings.max_output_tokens)


def is_offline(model: object) -> bool:
    """True for the built-in no-LLM model."""
    return isinstance(model, OfflineModel)


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


class UniqueIds(Model):
    """Wraps a Chat Completions model so its output items carry fresh unique ids.

    The SDK stamps every converted item with `__fake_id__`; ChatKit reuses message ids as
    thread item ids, so without this each turn would overwrite the previous answer.
    Tool `call_id`s are left untouched.
    """

    def __init__(self, inner: Model) -> None:
        self.inner = inner

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        response = await self.inner.get_response(*args, **kwargs)
        rewriter = _IdRewriter()
        response.output = [rewriter.item(i, item) for i, item in enumerate(response.output)]
        return response

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[ResponseStreamEvent]:
        rewriter = _IdRewriter()
        # The SDK types stream_response as an AsyncIterator; it is an async generator (has aclose).
        async with aclosing(self.inner.stream_response(*args, **kwargs)) as stream:  # type: ignore[type-var]
            async for event in stream:
                yield rewriter.event(event)

    async def close(self) -> None:
        await self.inner.close()
