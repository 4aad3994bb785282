"""The ChatKitServer subclass: request checks the SDK leaves to us, and respond(), which has the
request's assistant (docsdesk.assistant) answer and records the turn (docsdesk.insights.turns)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from chatkit.actions import Action
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    FeedbackKind,
    HiddenContextItem,
    InputTranscribeReq,
    Page,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadMetadata,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadStreamEvent,
    ThreadsUpdateReq,
    UserMessageInput,
    UserMessageItem,
    WidgetItem,
)

from chatkit_store import PostgresStore
from chatkit_store.attachments import AttachmentFiles
from docsdesk.assistant.attachment_input import AttachmentInput
from docsdesk.assistant.configured import build_registry
from docsdesk.assistant.definition import MAX_AGENT_TURNS, Assistant, AssistantRegistry, Assistants
from docsdesk.assistant.history import HISTORY_PAGE, DocsConverter, history_window
from docsdesk.assistant.models import is_offline
from docsdesk.assistant.run import TurnRun, is_answer, run_agent
from docsdesk.assistant.search_tool import OFFLINE_TOP_PAGE_SECTIONS, DocsAgentContext
from docsdesk.assistant.titles import MAX_TITLE_CHARS, make_title, message_text
from docsdesk.core.config_file import DeploymentConfig, load_config
from docsdesk.core.context import RequestContext
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.core.turn import TurnOutcome
from docsdesk.handoff.desk import HandoffDesk, SubmittedForm, is_handoff
from docsdesk.handoff.followups import FollowUps, follow_up_item, question_item
from docsdesk.handoff.widgets import FOLLOW_UP_ACTION, offered_actions
from docsdesk.http.chatkit_request import ParsedBody, install_parse_once
from docsdesk.insights.turns import TurnRecorder, turn_record
from docsdesk.ops.observability import hash_user, log_salt
from prompts import SYSTEM_PROMPT, TITLE_PROMPT
from rag.search import DocsSearch

__all__ = ["MAX_AGENT_TURNS", "DocsDeskServer", "build_assistants"]

log = logging.getLogger("docsdesk.assistant")


class _NoRequestOpLine(logging.Filter):
    """Drops the SDK's "Received request op: ..." INFO line, one per request: the access log
    already records each request's type."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and str(record.msg).startswith("Received request op:"))


logging.getLogger("chatkit").addFilter(_NoRequestOpLine())


def build_assistants(
    settings: Settings, search: DocsSearch, config: DeploymentConfig | None = None
) -> AssistantRegistry:
    """The assistants of this deployment (`config`, default: the config file or the DOCSDESK_*
    variables), with the card's instructions (prompts.py) where a config gives none."""
    config = config if config is not None else load_config(settings)
    return build_registry(settings, config, search.engine, SYSTEM_PROMPT, TITLE_PROMPT)


class DocsDeskServer(ChatKitServer[RequestContext]):
    def __init__(
        self,
        store: PostgresStore,
        search: DocsSearch,
        settings: Settings,
        assistants: Assistants | None = None,
        attachments: AttachmentFiles | None = None,
        recorder: TurnRecorder | None = None,
        handoff: HandoffDesk | None = None,
    ) -> None:
        super().__init__(store, attachment_store=attachments)
        install_parse_once()
        self.store: PostgresStore = store
        self.search = search
        self.settings = settings
        self.assistants = assistants if assistants is not None else build_assistants(settings, search)
        self.attachments = attachments
        self.attachment_input = (
            AttachmentInput(attachments, settings.attachment_text_chars, settings.model_accepts_images)
            if attachments is not None
            else None
        )
        self.recorder = recorder
        self.handoff = handoff  # None: no hand-off widget, no follow-up suggestions
        self.salt = log_salt(settings)

    # --- request handling ---------------------------------------------------------

    async def process_request(
        self, request: ChatKitReq, context: RequestContext, body: bytes | None = None
    ) -> StreamingResult | NonStreamingResult:
        """The SDK's public `process()` for a request the caller already parsed (from `body`,
        the raw request, which the SDK then does not parse again), after the checks that must
        fail before anything is written or streamed, and answering the request types this
        server does not hand to the SDK."""
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
        if isinstance(request, ThreadsCreateReq | ThreadsAddUserMessageReq):
            # The history window's first page is read with the thread (chatkit_store.seen).
            context.items_with_thread = HISTORY_PAGE
        raw = body if body is not None else request.model_dump_json().encode()
        return await self.process(ParsedBody(raw, request), context)

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
                await self._check_action(request, context)
            case ThreadsUpdateReq():
                if len(request.params.title) > MAX_TITLE_CHARS:
                    raise ApiError(
                        400, "invalid_request", f"title is longer than {MAX_TITLE_CHARS} characters"
                    )

    async def _check_action(
        self, request: ThreadsCustomActionReq | ThreadsSyncCustomActionReq, context: RequestContext
    ) -> None:
        """A widget action must come from a widget of this reader's thread that offers it; a
        hand-off's form must be complete. Anything else is a 4xx before anything streams."""
        params = request.params
        await self.store.load_thread(params.thread_id, context)
        item = (
            await self.store.load_item(params.thread_id, params.item_id, context) if params.item_id else None
        )
        if self.handoff is None or isinstance(request, ThreadsSyncCustomActionReq):
            raise ApiError(400, "unsupported", "this server's widget actions are threads.custom_action")
        if item is not None and not isinstance(item, WidgetItem):
            raise ApiError(400, "invalid_action", f"item {item.id} is not a widget")
        if is_handoff(params.action):
            await self.handoff.check(params.thread_id, item, params.action, context)
        elif params.action.type == FOLLOW_UP_ACTION:
            offered = offered_actions(item.widget) if item is not None else []
            if not any(a.type == FOLLOW_UP_ACTION and a.payload == params.action.payload for a in offered):
                raise ApiError(400, "invalid_action", "this follow-up is not one the widget offers")
        else:
            raise ApiError(400, "unknown_action", f"no widget action {params.action.type!r}")

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
        if feedback == "negative" and self.handoff is not None and self.handoff.enabled(context.assistant):
            # Feedback is not a stream: the form is stored and shows when the thread is loaded;
            # once per thread (more answers rated down add no more forms).
            if await self.handoff.already_offered(thread_id, context):
                return
            thread = await self.store.load_thread(thread_id, context)
            item = await self.handoff.offer(thread, context, "feedback")
            await self.store.add_thread_item(thread_id, item, context)

    async def action(
        self,
        thread: ThreadMetadata,
        action: Action[str, Any],
        sender: WidgetItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Widget actions, checked in `_check_action`: the hand-off form (its widget replaced
        by the confirmation; nothing for a second submission) and follow-up buttons (the
        question becomes the reader's message and is answered)."""
        if self.handoff is not None and is_handoff(action) and sender is not None:
            replaced = await self.handoff.submit(
                thread, sender, SubmittedForm(action.payload, context.email), context
            )
            if replaced is not None:
                yield ThreadItemReplacedEvent(item=replaced)
        elif action.type == FOLLOW_UP_ACTION and isinstance(action.payload, dict):
            question = question_item(self.store, thread, context, str(action.payload["question"]))
            yield ThreadItemDoneEvent(item=question)
            async for event in self.respond(thread, question, context):
                yield event

    # --- the assistant --------------------------------------------------------------

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        assistant = self.assistants.get(context.assistant)
        started_at = datetime.now(UTC)
        telemetry = context.telemetry
        if telemetry is not None:
            telemetry.thread_id, telemetry.turn_open = thread.id, True
        page_item = self._page_item(thread, input_user_message, context)
        if page_item is not None:
            yield ThreadItemDoneEvent(item=page_item)
        title = None
        if thread.title is None and input_user_message is not None:
            title = asyncio.create_task(make_title(assistant, message_text(input_user_message.content)))
        converter = DocsConverter(
            self.attachment_input,
            context,
            frozenset(a.id for a in input_user_message.attachments) if input_user_message else frozenset(),
            (page_item.id, context.page) if page_item is not None and context.page is not None else None,
        )
        input_items, newest = await history_window(
            self.store, thread, converter, context, assistant.limits.history_tokens
        )
        # The SDK's stream_agent_response reads the thread's last items again: served from this read.
        agent_context = await self._agent_context(assistant, thread, context, newest)
        run = TurnRun()
        follow_ups = self._follow_ups(assistant, input_user_message)
        try:
            async for event in run_agent(assistant, agent_context, input_items, context, run):
                if follow_ups is not None and is_answer(event):
                    follow_ups.answered(run.answers, agent_context.sources)  # looked up as it is saved
                yield event
        finally:
            if input_user_message is not None:
                self._record(assistant, thread, input_user_message, context, agent_context, run, started_at)
            if not run.finished and title is not None:
                title.cancel()
            if not run.finished and follow_ups is not None:
                follow_ups.discard()
            if telemetry is not None and (run.finished or telemetry.error_code is not None):
                telemetry.turn_open = False
        if run.finished and input_user_message is not None:
            async for event in self._after_answer(thread, context, agent_context, run, follow_ups):
                yield event
        if title is not None:
            thread.title = await title

    def _page_item(
        self, thread: ThreadMetadata, question: UserMessageItem | None, context: RequestContext
    ) -> HiddenContextItem | None:
        """The reader's page as a hidden item: recorded in the thread so later turns know
        what page each question was asked on."""
        if context.page is None or question is None:
            return None
        return HiddenContextItem(
            id=self.store.generate_item_id("message", thread, context),
            thread_id=thread.id,
            created_at=datetime.now(),
            content={"page": context.page.model_dump(exclude_none=True)},
        )

    def _follow_ups(self, assistant: Assistant, question: UserMessageItem | None) -> FollowUps | None:
        """The turn's follow-up suggestions, if the assistant offers them after an answer."""
        if self.handoff is None or question is None or not assistant.follow_ups:
            return None
        return FollowUps(self.handoff.engine)

    async def _after_answer(
        self,
        thread: ThreadMetadata,
        context: RequestContext,
        agent_context: DocsAgentContext,
        run: TurnRun,
        follow_ups: FollowUps | None,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """The hand-off form after a not-covered turn or a request for a person (when a
        channel is configured), else follow-up suggestions after an answer."""
        if self.handoff is None:
            return
        outcome = run.outcome(agent_context)
        reason = (
            "asked_for_person"
            if agent_context.asked_for_person
            else "not_covered"
            if outcome is TurnOutcome.NOT_COVERED
            else None
        )
        try:
            if reason is not None and agent_context.handoff_available:
                yield ThreadItemDoneEvent(item=await self.handoff.offer(thread, context, reason))
            elif outcome is TurnOutcome.ANSWERED and follow_ups is not None:
                questions = await follow_ups.questions()
                if questions:
                    yield ThreadItemDoneEvent(item=follow_up_item(self.store, thread, context, questions))
        except Exception:
            log.exception("could not add the turn's widget", extra={"request_id": context.request_id})
        finally:
            if follow_ups is not None:
                follow_ups.discard()

    async def _agent_context(
        self, assistant: Assistant, thread: ThreadMetadata, context: RequestContext, newest: Page[ThreadItem]
    ) -> DocsAgentContext:
        served = await assistant.collection.names()
        self.store.seen_newest(thread.id, newest, context)
        return DocsAgentContext(
            thread=thread,
            store=self.store,
            request_context=context,
            search=self.search,
            page=context.page,
            collections=served,
            collection=served[0],
            results_per_search=assistant.limits.results_per_search,
            top_page_sections=OFFLINE_TOP_PAGE_SECTIONS if is_offline(assistant.model) else 0,
            handoff_available=self.handoff is not None and self.handoff.enabled(assistant.name),
        )

    def _record(
        self,
        assistant: Assistant,
        thread: ThreadMetadata,
        question: UserMessageItem,
        context: RequestContext,
        agent_context: DocsAgentContext,
        run: TurnRun,
        started_at: datetime,
    ) -> None:
        """Queue this turn's record (no I/O here: the recorder writes it in the background)."""
        if self.recorder is None:
            return
        try:
            self.recorder.record(
                turn_record(
                    thread_id=thread.id,
                    question_item_id=question.id,
                    question=message_text(question.content),
                    tenant_id=context.tenant_id,
                    user_hash=hash_user(self.salt, context.user_id),
                    collection=agent_context.collection or "",
                    outcome=run.outcome(agent_context),
                    not_covered_reason=run.not_covered_reason(agent_context),
                    follows=agent_context.follows,
                    model=assistant.model_name,
                    created_at=started_at,
                    answers=run.answers,
                    page=context.page,
                    searches=agent_context.searches,
                    first_text_seconds=run.first_delta_seconds,
                    duration_seconds=run.elapsed,
                    input_tokens=run.input_tokens,
                    output_tokens=run.output_tokens,
                    assistant=assistant.name,
                )
            )
        except Exception:
            log.exception("could not record the turn", extra={"request_id": context.request_id})
