"""One agent run for one turn: the events it streams (with citations attached to each finished
answer), under the turn's deadline, and what the run amounted to (`TurnRun`), whichever way
it ended. Failures become the ChatKit error events the reader sees."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from agents import InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered, Runner
from agents.items import TResponseInputItem
from chatkit.agents import stream_agent_response
from chatkit.errors import CustomStreamError, ErrorCode, StreamError
from chatkit.types import (
    AssistantMessageContentPartAnnotationAdded,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ProgressUpdateEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

from docsdesk.assistant.citations import annotate
from docsdesk.assistant.definition import Assistant
from docsdesk.assistant.follow_up import leaned_on
from docsdesk.assistant.intents import small_talk_turn
from docsdesk.assistant.search_tool import DocsAgentContext
from docsdesk.assistant.turn_input import read_turn
from docsdesk.core.context import RequestContext
from docsdesk.core.turn import NotCoveredReason, TurnOutcome
from docsdesk.ops.metrics import observe_first_delta, observe_model_run, observe_tokens
from docsdesk.ops.outage import STREAM_MESSAGE as OUTAGE_STREAM_MESSAGE
from docsdesk.ops.outage import outage_kind

log = logging.getLogger("docsdesk.assistant")

GUARDRAIL_MESSAGE = "This answer was withheld by a safety check. Try rephrasing your question."
TIMEOUT_MESSAGE = "The assistant took too long to answer. Please try again."
CUSTOM_ERROR = "custom"  # the code of the SDK's error event for a CustomStreamError


@dataclass
class TurnRun:
    """What one run produced. `status` is the metric label (ok, guardrail, cancelled, timeout,
    database_unavailable, error); `outcome` the turn's recorded outcome."""

    started: float = field(default_factory=time.perf_counter)
    status: str = "error"
    answers: list[AssistantMessageItem] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    first_delta_seconds: float | None = None
    elapsed: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status == "ok"

    def outcome(self, agent_context: DocsAgentContext) -> TurnOutcome:
        """Small talk (the reader's message, `intents.small_talk`), declared by the model
        (`report_not_covered`), or every search found nothing, or answered; for a run that did
        not finish, cancelled or error."""
        if self.status == "cancelled":
            return TurnOutcome.CANCELLED
        if not self.finished:
            return TurnOutcome.ERROR
        if agent_context.small_talk is not None:
            return TurnOutcome.SMALL_TALK
        if agent_context.outcome is not None:
            return agent_context.outcome
        if _found_nothing(agent_context):
            return TurnOutcome.NOT_COVERED
        return TurnOutcome.ANSWERED

    def not_covered_reason(self, agent_context: DocsAgentContext) -> NotCoveredReason | None:
        """Why a not-covered turn was: as the model declared it, else the searches found nothing."""
        if self.outcome(agent_context) != TurnOutcome.NOT_COVERED:
            return None
        if agent_context.not_covered_reason is not None:
            return agent_context.not_covered_reason
        return NotCoveredReason.NO_RESULTS if _found_nothing(agent_context) else None


def _found_nothing(agent_context: DocsAgentContext) -> bool:
    searches = agent_context.searches
    return bool(searches) and not any(s.results for s in searches)


async def run_agent(
    assistant: Assistant,
    agent_context: DocsAgentContext,
    input_items: list[TResponseInputItem],
    context: RequestContext,
    run: TurnRun,
) -> AsyncIterator[ThreadStreamEvent]:
    """Stream the assistant's answer as ChatKit events, filling in `run` as it goes. Whether the
    reader's message is small talk, and which earlier question it leans on, is decided here,
    from the conversation, for every model."""
    turn = read_turn(input_items)
    agent_context.small_talk = small_talk_turn(turn)
    agent_context.follows = None if agent_context.small_talk else leaned_on(turn.question, turn.earlier)
    result = Runner.run_streamed(
        assistant.agent, input_items, context=agent_context, max_turns=assistant.limits.max_agent_turns
    )
    events = stream_agent_response(agent_context, result)
    try:
        async for event in within(events, assistant.limits.deadline_seconds):
            if run.first_delta_seconds is None and is_text_delta(event):
                note_first_delta(run, context)
            if isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem):
                for update in cite(event.item, agent_context):
                    yield update
                run.answers.append(event.item)
            yield event
        run.status = "ok"
        usage = result.context_wrapper.usage
        run.input_tokens, run.output_tokens = usage.input_tokens or None, usage.output_tokens or None
        observe_tokens(usage.input_tokens, usage.output_tokens)
    except asyncio.CancelledError:
        run.status = "cancelled"
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes an error event
        raise stream_error(exc, run, context) from None
    finally:
        run.elapsed = time.perf_counter() - run.started
        observe_model_run(assistant.model_label, run.status, run.elapsed)
        if not run.finished:
            result.cancel()
            await release_event_queue(agent_context)


async def release_event_queue(agent_context: DocsAgentContext) -> None:
    """A run left before its end (the SDK stopped reading: its store write failed; a timeout; a
    cancellation): the SDK's event merge still waits on the context's event queue in a task it
    never cancels, which would be destroyed pending ("Task was destroyed but it is pending!").
    One event through the public `stream()` (the queue is unbounded: no wait) lets that task
    finish; nobody reads it."""
    await agent_context.stream(ProgressUpdateEvent(text=""))


def stream_error(exc: Exception, run: TurnRun, context: RequestContext) -> StreamError | CustomStreamError:
    """The error event for a failed run (logged as it deserves); `run.status` says which."""
    extra = {"request_id": context.request_id}
    if isinstance(exc, InputGuardrailTripwireTriggered | OutputGuardrailTripwireTriggered):
        # Expected: stream_agent_response already removed what the turn produced.
        run.status = "guardrail"
        log.info(
            "guardrail %s tripped; the answer was withheld",
            exc.guardrail_result.guardrail.get_name(),
            extra=extra,
        )
        return report(context, CustomStreamError(GUARDRAIL_MESSAGE, allow_retry=False))
    if outage_kind(exc):
        # One rate-limited line, no traceback (OutageLogFilter); the reader may retry.
        run.status = "database_unavailable"
        log.warning("turn failed", exc_info=exc, extra=extra)
        return report(context, CustomStreamError(OUTAGE_STREAM_MESSAGE, allow_retry=True))
    if isinstance(exc, TimeoutError):
        run.status = "timeout"
        log.warning("turn timed out", extra=extra)
        return report(context, CustomStreamError(TIMEOUT_MESSAGE, allow_retry=True))
    log.error("turn failed", exc_info=exc, extra=extra)
    return report(context, StreamError(ErrorCode.STREAM_ERROR, allow_retry=True))


def report(
    context: RequestContext, error: StreamError | CustomStreamError
) -> StreamError | CustomStreamError:
    """Tell the request's telemetry which error event the reader gets."""
    if context.telemetry is not None:
        context.telemetry.error_code = (
            CUSTOM_ERROR
            if isinstance(error, CustomStreamError)
            else str(getattr(error.code, "value", error.code))
        )
    return error


def note_first_delta(run: TurnRun, context: RequestContext) -> None:
    run.first_delta_seconds = time.perf_counter() - run.started
    observe_first_delta(run.first_delta_seconds)
    if context.telemetry is not None:
        context.telemetry.first_delta_seconds = run.first_delta_seconds


async def within(events: AsyncIterator[Any], seconds: float) -> AsyncIterator[Any]:
    """Iterate `events` under a deadline of `seconds` for all of them (raises TimeoutError).
    The deadline covers the waits for the next event only, never the consumer's work between
    events (a timeout scope around a yield would cancel the consumer)."""
    deadline = asyncio.get_running_loop().time() + seconds
    iterator = aiter(events)
    try:
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    event = await anext(iterator)
            except StopAsyncIteration:
                return
            yield event
    finally:
        await iterator.aclose()  # type: ignore[attr-defined]


def cite(item: AssistantMessageItem, agent_context: DocsAgentContext) -> list[ThreadItemUpdatedEvent]:
    """Rewrite the finished message's [n] markers; return its annotation_added events."""
    item.content = annotate(item.content, agent_context.sources)
    return [
        ThreadItemUpdatedEvent(
            item_id=item.id,
            update=AssistantMessageContentPartAnnotationAdded(
                content_index=content_index, annotation_index=annotation_index, annotation=annotation
            ),
        )
        for content_index, content in enumerate(item.content)
        for annotation_index, annotation in enumerate(content.annotations)
    ]


def is_text_delta(event: ThreadStreamEvent) -> bool:
    return isinstance(event, ThreadItemUpdatedEvent) and isinstance(
        event.update, AssistantMessageContentPartTextDelta
    )


def is_answer(event: ThreadStreamEvent) -> bool:
    """A finished assistant message (in `run.answers` by the time the event is yielded)."""
    return isinstance(event, ThreadItemDoneEvent) and isinstance(event.item, AssistantMessageItem)
