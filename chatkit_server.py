"""The ChatKitServer subclass: request checks the SDK leaves to us, and the documentation
assistant's respond()."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from typing import Any

from agents import (
    Agent,
    InputGuardrailTripwireTriggered,
    Model,
    ModelSettings,
    OutputGuardrailTripwireTriggered,
    Runner,
)
from agents.items import TResponseInputItem
from chatkit.agents import ThreadItemConverter, stream_agent_response
from chatkit.errors import CustomStreamError, ErrorCode, StreamError
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import (
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    Attachment,
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    FeedbackKind,
    HiddenContextItem,
    InputTranscribeReq,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadStreamEvent,
    ThreadsUpdateReq,
    URLSource,
    UserMessageInput,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
)
from openai.types.responses import EasyInputMessageParam, ResponseInputContentParam, ResponseInputTextParam
from openai.types.responses.response_input_item_param import Message

from chatkit_store import PostgresStore
from chatkit_store.attachments import AttachmentFiles
from docsdesk.assistant.attachment_input import EARLIER, AttachmentInput, reference
from docsdesk.assistant.citations import annotate
from docsdesk.assistant.models import build_model, is_offline, model_settings
from docsdesk.assistant.search_tool import DocsAgentContext, search_docs
from docsdesk.core.blocks import QUOTE_BLOCK, QUOTE_INTRO, data_block
from docsdesk.core.context import PageContext, RequestContext
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.insights.turns import SearchRecord, TurnRecord, TurnRecorder, classify
from docsdesk.ops.metrics import observe_first_delta, observe_model_run, observe_tokens
from docsdesk.ops.observability import hash_user, log_salt
from docsdesk.ops.outage import STREAM_MESSAGE as OUTAGE_STREAM_MESSAGE
from docsdesk.ops.outage import outage_kind
from prompts import SYSTEM_PROMPT, TITLE_PROMPT
from rag.collections import ServingCollection
from rag.search import DocsSearch

log = logging.getLogger("docsdesk.assistant")


class _NoRequestOpLine(logging.Filter):
    """Drops the SDK's "Received request op: ..." INFO line, one per request: the access log
    already records each request's type."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and str(record.msg).startswith("Received request op:"))


logging.getLogger("chatkit").addFilter(_NoRequestOpLine())

MAX_TITLE_CHARS = 200
MAX_AGENT_TURNS = 6
_HISTORY_PAGE = 50
GUARDRAIL_MESSAGE = "This answer was withheld by a safety check. Try rephrasing your question."


class DocsConverter(ThreadItemConverter):
    """Thread items -> model input. Page-context items become a delimited data block.

    Attachments: those of the message being answered (`expand`) go in whole (images as
    image inputs, text as data blocks, see docsdesk/assistant/attachment_input.py); earlier
    ones by name only, so a large file is not re-sent on every turn. One converter per turn."""

    def __init__(
        self,
        attachments: AttachmentInput | None = None,
        context: RequestContext | None = None,
        expand: frozenset[str] = frozenset(),
    ) -> None:
        self.attachments = attachments
        self.context = context
        self.expand = expand

    async def hidden_context_to_input(
        self, item: HiddenContextItem
    ) -> TResponseInputItem | list[TResponseInputItem] | None:
        if isinstance(item.content, dict) and "page" in item.content:
            page = PageContext.model_validate(item.content["page"])
            return _user_text(page.render())
        return await super().hidden_context_to_input(item)

    async def user_message_to_input(
        self, item: UserMessageItem, is_last_message: bool = True
    ) -> list[TResponseInputItem]:
        """The SDK's conversion, with the quoted selection (when shown) as a delimited data
        block instead of the SDK's undelimited "The user is referring to this" text."""
        converted = await super().user_message_to_input(
            item.model_copy(update={"quoted_text": None}), is_last_message
        )
        items: list[TResponseInputItem] = (
            [] if converted is None else converted if isinstance(converted, list) else [converted]
        )
        if item.quoted_text and is_last_message:
            items.insert(1, _user_text(f"{QUOTE_INTRO}\n{data_block(QUOTE_BLOCK, item.quoted_text)}"))
        return items

    async def assistant_message_to_input(self, item: AssistantMessageItem) -> TResponseInputItem:
        # Plain string content: the SDK's default (output_text parts) is rejected by the
        # Agents SDK's Chat Completions converter, and the Responses API takes either.
        text = "".join(part.text for part in item.content)
        return EasyInputMessageParam(type="message", role="assistant", content=text)

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputTextParam:
        return ResponseInputTextParam(type="input_text", text=f"@{tag.text}")

    async def attachment_to_message_content(self, attachment: Attachment) -> ResponseInputContentParam:
        if self.attachments is not None and self.context is not None and attachment.id in self.expand:
            return await self.attachments.content(attachment, self.context)
        return reference(attachment, EARLIER)


def build_agent(model: Model, settings: ModelSettings) -> Agent[DocsAgentContext]:
    """The documentation assistant: fixed instructions, one tool."""
    return Agent[DocsAgentContext](
        name="docsdesk",
        instructions=SYSTEM_PROMPT,
        model=model,
        model_settings=settings,
        tools=[search_docs],
    )


def _user_text(text: str) -> Message:
    return Message(role="user", type="message", content=[{"type": "input_text", "text": text}])


IMAGE_TOKENS = 1_000  # what an image input costs, roughly, whatever its data URL's length


def _input_tokens(items: list[TResponseInputItem]) -> int:
    images = 0
    chars = 0
    for item in items:
        content = item.get("content") if isinstance(item, dict) else None
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "input_image":
                    images += 1
                else:
                    chars += len(repr(part))
        else:
            chars += len(repr(item))
    return max(1, chars // 4 + images * IMAGE_TOKENS)


def message_text(content: list[Any]) -> str:
    return "".join(
        part.text if isinstance(part, UserMessageTextContent) else f"@{part.text}" for part in content
    )


def heuristic_title(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= 60:
        return words.rstrip(" ?.!") or "New conversation"
    return words[:60].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


class DocsDeskServer(ChatKitServer[RequestContext]):
    def __init__(
        self,
        store: PostgresStore,
        search: DocsSearch,
        settings: Settings,
        model: Model | None = None,
        attachments: AttachmentFiles | None = None,
        recorder: TurnRecorder | None = None,
    ) -> None:
        super().__init__(store, attachment_store=attachments)
        self.recorder = recorder
        self.salt = log_salt(settings)
        self.store: PostgresStore = store
        self.attachments = attachments
        self.attachment_input = (
            AttachmentInput(attachments, settings.attachment_text_chars, settings.model_accepts_images)
            if attachments is not None
            else None
        )
        self.search = search
        self.settings = settings
        self.model = model if model is not None else build_model(settings)
        self.model_label = settings.resolved_model.split(":", 1)[0]
        self.model_settings = model_settings(settings)
        self.collection = ServingCollection(search.engine, settings.collection)

    # --- request handling ---------------------------------------------------------

    async def process_request(
        self, request: ChatKitReq, context: RequestContext, body: bytes | None = None
    ) -> StreamingResult | NonStreamingResult:
        """The SDK's public `process()` for a request the caller already parsed (from `body`,
        the raw request), after the checks that must fail before anything is written or
        streamed, and answering the request types this server does not hand to the SDK."""
        await self._check(request, context)
        match request:
            case AttachmentsCreateReq() if self.attachments is None:
                raise ApiError(400, "unsupported", "file attachments are not enabled on this server")
            case AttachmentsDeleteReq() if self.attachments is None:
                # Metadata only: no file store is configured, so there is no file to delete.
                # Loaded first: someone else's or a missing attachment is a 404.
                await self.store.load_attachment(request.params.attachment_id, context)
                await self.store.delete_attachment(request.params.attachment_id, context)
                return NonStreamingResult(b"{}")
            case InputTranscribeReq():
                raise ApiError(
                    400, "unsupported", "dictation (input.transcribe) is not enabled on this server"
                )
        return await self.process(body if body is not None else request.model_dump_json(), context)

    async def _check(self, request: ChatKitReq, context: RequestContext) -> None:
        match request:
            case ThreadsCreateReq():
                await self._check_input(request.params.input, None, context)
            case ThreadsAddUserMessageReq():
                # The SDK loads the thread (404) before writing anything.
                await self._check_input(request.params.input, request.params.thread_id, context)
            case ThreadsRetryAfterItemReq():
                item = await self.store.load_item(request.params.thread_id, request.params.item_id, context)
                if not isinstance(item, UserMessageItem):
                    raise ApiError(400, "invalid_request", f"item {item.id} is not a user message")
            case ThreadsCustomActionReq() | ThreadsSyncCustomActionReq():
                await self.store.load_thread(request.params.thread_id, context)
                if request.params.item_id:
                    await self.store.load_item(request.params.thread_id, request.params.item_id, context)
                raise ApiError(400, "unsupported", "this server defines no widget actions")
            case ThreadsUpdateReq():
                if len(request.params.title) > MAX_TITLE_CHARS:
                    raise ApiError(
                        400, "invalid_request", f"title is longer than {MAX_TITLE_CHARS} characters"
                    )

    async def _check_input(
        self, user_input: UserMessageInput, thread_id: str | None, context: RequestContext
    ) -> None:
        text = message_text(user_input.content)
        if not text.strip() and not user_input.attachments:
            raise ApiError(400, "invalid_request", "the message has no text")
        size = len(text) + len(user_input.quoted_text or "")
        if size > self.settings.max_message_chars:
            raise ApiError(
                400,
                "message_too_long",
                f"the message is {size} characters; the limit is {self.settings.max_message_chars}",
            )
        if self.attachments is not None:
            await self.attachments.check_sendable(list(user_input.attachments), thread_id, context)
        else:
            for attachment_id in user_input.attachments:
                await self.store.load_attachment(attachment_id, context)

    async def add_feedback(
        self, thread_id: str, item_ids: list[str], feedback: FeedbackKind, context: RequestContext
    ) -> None:
        await self.store.add_feedback(thread_id, item_ids, feedback, context)

    # --- the assistant --------------------------------------------------------------

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        if context.page is not None and input_user_message is not None:
            # Recorded in the thread so later turns know what page each question was asked on.
            yield ThreadItemDoneEvent(
                item=HiddenContextItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    content={"page": context.page.model_dump(exclude_none=True)},
                )
            )
        title_task = None
        if thread.title is None and input_user_message is not None:
            title_task = asyncio.create_task(self._make_title(message_text(input_user_message.content)))

        converter = DocsConverter(
            self.attachment_input,
            context,
            frozenset(a.id for a in input_user_message.attachments) if input_user_message else frozenset(),
        )
        input_items = await self._history(thread, converter, context)
        agent_context = DocsAgentContext(
            thread=thread,
            store=self.store,
            request_context=context,
            search=self.search,
            page=context.page,
            collection=await self.collection.name(),
            results_per_search=self.settings.search_results,
        )
        agent = build_agent(self.model, self.model_settings)
        result = Runner.run_streamed(agent, input_items, context=agent_context, max_turns=MAX_AGENT_TURNS)
        outcome = "error"
        answers: list[AssistantMessageItem] = []
        try:
            async for event in self._timed(stream_agent_response(agent_context, result)):
                if context.first_delta_seconds is None and _is_text_delta(event):
                    context.first_delta_seconds = time.perf_counter() - started
                    observe_first_delta(context.first_delta_seconds)
                if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
                    for update in self._cite(event.item, agent_context):
                        yield update
                    answers.append(event.item)
                yield event
            outcome = "ok"
            usage = result.context_wrapper.usage
            observe_tokens(usage.input_tokens, usage.output_tokens)
        except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered) as exc:
            # An expected outcome: stream_agent_response already removed what the turn produced.
            outcome = "guardrail"
            log.info(
                "guardrail %s tripped; the answer was withheld",
                exc.guardrail_result.guardrail.get_name(),
                extra={"request_id": context.request_id},
            )
            raise CustomStreamError(GUARDRAIL_MESSAGE, allow_retry=False) from None
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:
            if outage_kind(exc):
                # One rate-limited line, no traceback (OutageLogFilter); the reader may retry.
                outcome = "database_unavailable"
                log.warning("turn failed", exc_info=True, extra={"request_id": context.request_id})
                raise CustomStreamError(OUTAGE_STREAM_MESSAGE, allow_retry=True) from None
            if isinstance(exc, TimeoutError):
                outcome = "timeout"
                log.warning("turn timed out", extra={"request_id": context.request_id})
                raise CustomStreamError(
                    "The assistant took too long to answer. Please try again.", allow_retry=True
                ) from None
            log.exception("turn failed", extra={"request_id": context.request_id})
            raise StreamError(ErrorCode.STREAM_ERROR, allow_retry=True) from None
        finally:
            elapsed = time.perf_counter() - started
            observe_model_run(self.model_label, outcome, elapsed)
            if input_user_message is not None and self.recorder is not None:
                try:
                    self._record(
                        thread,
                        input_user_message,
                        context,
                        agent_context,
                        answers,
                        result,
                        outcome,
                        started_at,
                        elapsed,
                    )
                except Exception:
                    log.exception("could not record the turn", extra={"request_id": context.request_id})
            if outcome != "ok":
                result.cancel()
                if title_task is not None:
                    title_task.cancel()
        if title_task is not None:
            thread.title = await title_task

    def _record(
        self,
        thread: ThreadMetadata,
        question: UserMessageItem,
        context: RequestContext,
        agent_context: DocsAgentContext,
        answers: list[AssistantMessageItem],
        result: Any,
        outcome: str,
        started_at: datetime,
        elapsed: float,
    ) -> None:
        """Queue this turn's record (no I/O here: the recorder writes it in the background)."""
        if self.recorder is None:
            return
        answer = "\n\n".join(part.text for item in answers for part in item.content)
        cited = [
            annotation.source.url
            for item in answers
            for part in item.content
            for annotation in part.annotations
            if isinstance(annotation.source, URLSource) and annotation.source.url
        ]
        if outcome == "ok":
            kind = classify(answer, [s.results for s in agent_context.searches])
        else:
            kind = "cancelled" if outcome == "cancelled" else "error"
        usage = result.context_wrapper.usage if outcome == "ok" else None
        first = context.first_delta_seconds
        page = context.page
        self.recorder.record(
            TurnRecord(
                thread_id=thread.id,
                question_item_id=question.id,
                tenant_id=context.tenant_id,
                user_hash=hash_user(self.salt, context.user_id),
                collection=agent_context.collection or "",
                question=message_text(question.content),
                outcome=kind,
                model=self.settings.resolved_model,
                created_at=started_at,
                answer_item_id=answers[-1].id if answers else None,
                answer=answer,
                page_url=page.url if page else None,
                page_title=page.title if page else None,
                searches=[
                    SearchRecord(s.query, s.results, s.best_score, s.not_in_docs)
                    for s in agent_context.searches
                ],
                cited_urls=list(dict.fromkeys(cited)),
                first_text_ms=round(first * 1000) if first is not None else None,
                duration_ms=round(elapsed * 1000),
                input_tokens=(usage.input_tokens or None) if usage else None,
                output_tokens=(usage.output_tokens or None) if usage else None,
            )
        )

    async def _timed(self, events: AsyncIterator[ThreadStreamEvent]) -> AsyncIterator[ThreadStreamEvent]:
        """Iterate `events` under the per-turn deadline (raises asyncio.TimeoutError)."""
        deadline = time.monotonic() + self.settings.turn_timeout_seconds
        iterator = aiter(events)
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                try:
                    event = await asyncio.wait_for(anext(iterator), remaining)
                except StopAsyncIteration:
                    return
                yield event
        finally:
            if isinstance(iterator, AsyncGenerator):
                await iterator.aclose()

    def _cite(
        self, item: AssistantMessageItem, agent_context: DocsAgentContext
    ) -> list[ThreadItemUpdatedEvent]:
        """Rewrite the finished message's markers; return its annotation_added events."""
        item.content = annotate(item.content, agent_context.sources)
        return [
            ThreadItemUpdatedEvent(
                item_id=item.id,
                update=AssistantMessageContentPartAnnotationAdded(
                    content_index=content_index,
                    annotation_index=annotation_index,
                    annotation=annotation,
                ),
            )
            for content_index, content in enumerate(item.content)
            for annotation_index, annotation in enumerate(content.annotations)
        ]

    async def _history(
        self, thread: ThreadMetadata, converter: DocsConverter, context: RequestContext
    ) -> list[TResponseInputItem]:
        """The newest items that fit the token budget, oldest dropped first, in order.

        The SDK stored the current user message before respond(), so it is already here."""
        budget = self.settings.history_tokens
        kept: list[list[TResponseInputItem]] = []
        newest_user_seen = False
        after = None
        while True:
            page = await self.store.load_thread_items(thread.id, after, _HISTORY_PAGE, "desc", context)
            for item in page.data:
                is_current = isinstance(item, UserMessageItem) and not newest_user_seen
                newest_user_seen = newest_user_seen or isinstance(item, UserMessageItem)
                converted = await self._convert(converter, item, is_current)
                cost = _input_tokens(converted) if converted else 0
                if cost > budget and not is_current and kept:
                    return [entry for chunk in reversed(kept) for entry in chunk]
                budget -= cost
                if converted:
                    kept.append(converted)
            if not page.has_more:
                break
            after = page.after
        return [entry for chunk in reversed(kept) for entry in chunk]

    async def _convert(
        self, converter: DocsConverter, item: ThreadItem, is_current: bool
    ) -> list[TResponseInputItem]:
        """One item through the SDK's public `to_agent_input`. The quoted selection of a user
        message is shown only for the message being answered: earlier ones go without it."""
        if isinstance(item, UserMessageItem) and item.quoted_text and not is_current:
            item = item.model_copy(update={"quoted_text": None})
        return await converter.to_agent_input(item)

    async def _make_title(self, first_message: str) -> str:
        fallback = heuristic_title(first_message)
        if is_offline(self.model):
            return fallback
        titler = Agent(
            name="docsdesk-title",
            instructions=TITLE_PROMPT,
            model=self.model,
            model_settings=self.model_settings.resolve(
                type(self.model_settings)(max_tokens=24, temperature=0.2)
            ),
        )
        try:
            result = await asyncio.wait_for(Runner.run(titler, first_message[:2000]), 15)
            title = " ".join(str(result.final_output).split()).strip("\"'“” .")
        except Exception:
            log.warning("title generation failed; using a heuristic title", exc_info=True)
            return fallback
        return title[:80] or fallback


def _is_text_delta(event: ThreadStreamEvent) -> bool:
    return isinstance(event, ThreadItemUpdatedEvent) and isinstance(
        event.update, AssistantMessageContentPartTextDelta
    )
