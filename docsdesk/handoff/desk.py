"""The hand-off service the ChatKit server uses: the widget item it adds (and records), the
check of a submitted form (4xx for anything forged), and the submission itself: transcript
from the store, delivery over every configured channel, the replacement widget."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from chatkit.actions import Action
from chatkit.types import ThreadMetadata, WidgetItem
from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_store import PostgresStore
from docsdesk.core.context import RequestContext
from docsdesk.core.errors import ApiError
from docsdesk.handoff import records
from docsdesk.handoff.channels import DeliveryError, channels_for
from docsdesk.handoff.config import HandoffConfig, HandoffConfigs
from docsdesk.handoff.smtp import EmailChannel
from docsdesk.handoff.ticket import Ticket
from docsdesk.handoff.transcript import thread_items, transcript_of
from docsdesk.handoff.widgets import (
    HANDOFF_ACTION,
    MAX_EMAIL_CHARS,
    MAX_NOTE_CHARS,
    handoff_form,
    handoff_sent,
)

log = logging.getLogger("docsdesk.handoff")

__all__ = ["EmailChannel", "HandoffDesk", "SubmittedForm"]

NOT_SENT = "Sorry, this could not be sent to support just now. Please try again in a few minutes."


class SubmittedForm:
    """The form's fields, checked: an email address (unless the identity has one) and an
    optional note of at most MAX_NOTE_CHARS."""

    def __init__(self, payload: Any, identity_email: str | None) -> None:
        if not isinstance(payload, dict):
            raise ApiError(400, "invalid_action", "the action's payload must be an object")
        email, note = payload.get("email", identity_email), payload.get("note") or ""
        if not isinstance(email, str) or not email.strip():
            raise ApiError(400, "invalid_action", "the form is missing the field 'email'")
        if not isinstance(note, str):
            raise ApiError(400, "invalid_action", "the field 'note' must be text")
        email = email.strip()
        if len(email) > MAX_EMAIL_CHARS or not _looks_like_email(email):
            raise ApiError(400, "invalid_email", "the field 'email' is not an email address")
        if len(note) > MAX_NOTE_CHARS:
            raise ApiError(
                413, "note_too_long", f"the note is {len(note)} characters; the limit is {MAX_NOTE_CHARS}"
            )
        self.email, self.note = email, note


def _looks_like_email(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain.strip(".") and not any(c.isspace() for c in address))


class HandoffDesk:
    def __init__(self, engine: AsyncEngine, store: PostgresStore, configs: HandoffConfigs) -> None:
        self.engine, self.store, self.configs = engine, store, configs

    def config(self, assistant: str) -> HandoffConfig:
        return self.configs.handoff_config_for(assistant)

    def enabled(self, assistant: str) -> bool:
        return self.config(assistant).enabled

    async def offer(self, thread: ThreadMetadata, ctx: RequestContext, reason: str) -> WidgetItem:
        """The hand-off widget item for `thread`, recorded as shown (with the reader's page)."""
        page_url = ctx.page.url if ctx.page is not None else None
        item = WidgetItem(
            id=self.store.generate_item_id("message", thread, ctx),
            thread_id=thread.id,
            created_at=datetime.now(),
            widget=handoff_form(needs_email=ctx.email is None),
        )
        await records.record_shown(self.engine, item.id, thread.id, ctx, reason, page_url)
        return item

    async def already_offered(self, thread_id: str, ctx: RequestContext) -> bool:
        return await records.offered_in_thread(self.engine, thread_id, ctx)

    async def check(
        self, thread_id: str, item: WidgetItem | None, action: Action[str, Any], ctx: RequestContext
    ) -> SubmittedForm:
        """The submitted form, or the 4xx a forged or malformed submission deserves."""
        if item is None:
            raise ApiError(400, "invalid_action", "a hand-off must name its widget item (item_id)")
        if await records.state_of(self.engine, item.id, thread_id, ctx) is None:
            raise ApiError(404, "not_found", f"item {item.id} is no hand-off form of this thread")
        return SubmittedForm(action.payload, ctx.email)

    async def submit(
        self, thread: ThreadMetadata, item: WidgetItem, form: SubmittedForm, ctx: RequestContext
    ) -> WidgetItem | None:
        """Send the ticket; the replacement widget, or None when this form was already taken
        (a second submission does nothing)."""
        claimed = await records.claim(self.engine, item.id, thread.id, ctx, form.email, form.note)
        if claimed is None:
            return None
        ticket = Ticket(
            handoff_id=claimed.id,
            thread_id=thread.id,
            assistant=claimed.assistant,
            email=form.email,
            note=form.note,
            page_url=claimed.page_url,
            transcript=transcript_of(await thread_items(self.store, thread.id, ctx)),
        )
        sent, deliveries = await self.deliver(self.config(claimed.assistant), ticket)
        await records.finish(self.engine, claimed.id, sent, deliveries)
        widget = handoff_sent(form.email) if sent else handoff_form(ctx.email is None, NOT_SENT)
        return item.model_copy(update={"widget": widget})

    async def deliver(self, config: HandoffConfig, ticket: Ticket) -> tuple[bool, list[dict[str, Any]]]:
        """Every configured channel at once; sent when at least one delivered."""
        channels = channels_for(config)
        results = await asyncio.gather(*(c.deliver(ticket) for c in channels), return_exceptions=True)
        deliveries: list[dict[str, Any]] = []
        for channel, result in zip(channels, results, strict=True):
            if isinstance(result, str):
                deliveries.append({"channel": channel.name, "ok": True, "reference": result})
            elif isinstance(result, DeliveryError):
                log.error(
                    "hand-off %d not delivered by %s: %s", ticket.handoff_id, channel.name, result.reason
                )
                deliveries.append({"channel": channel.name, "ok": False, "error": result.reason})
            else:
                raise result
        return any(d["ok"] for d in deliveries), deliveries


def is_handoff(action: Action[str, Any]) -> bool:
    return action.type == HANDOFF_ACTION
