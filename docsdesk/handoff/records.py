"""The `handoffs` table (migration 0007): a row when the widget is shown, claimed atomically
when the reader submits it (so a second submission finds nothing to claim), finished with
each channel's result. Every query is scoped to the thread, tenant and user."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.core.context import RequestContext

REASONS = ("not_covered", "feedback", "asked_for_person")
_OWNER = "thread_id = :thread AND tenant_id = :tenant AND user_id = :user"


@dataclass(frozen=True)
class Claimed:
    id: int
    assistant: str
    page_url: str | None


def _owner(thread_id: str, ctx: RequestContext) -> dict[str, Any]:
    return {"thread": thread_id, "tenant": ctx.tenant_id, "user": ctx.user_id}


async def record_shown(
    engine: AsyncEngine,
    item_id: str,
    thread_id: str,
    ctx: RequestContext,
    reason: str,
    page_url: str | None,
) -> None:
    if reason not in REASONS:
        raise ValueError(f"unknown hand-off reason {reason!r}")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO handoffs (item_id, thread_id, tenant_id, user_id, assistant, reason, page_url)"
                " VALUES (:item, :thread, :tenant, :user, :assistant, :reason, :page_url)"
            ),
            {
                "item": item_id,
                "assistant": ctx.assistant,
                "reason": reason,
                "page_url": page_url,
                **_owner(thread_id, ctx),
            },
        )


async def state_of(engine: AsyncEngine, item_id: str, thread_id: str, ctx: RequestContext) -> str | None:
    """The hand-off's state, or None when `item_id` is no hand-off of this reader's thread."""
    async with engine.connect() as conn:
        return (
            await conn.execute(
                text(f"SELECT state FROM handoffs WHERE item_id = :item AND {_OWNER}"),
                {"item": item_id, **_owner(thread_id, ctx)},
            )
        ).scalar_one_or_none()


async def claim(
    engine: AsyncEngine, item_id: str, thread_id: str, ctx: RequestContext, email: str, note: str
) -> Claimed | None:
    """Take the hand-off for sending (shown or failed before); None when it is already being
    sent or was sent: a second submission does nothing."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "UPDATE handoffs SET state = 'sending', email = :email, note = :note,"
                    " attempts = attempts + 1, submitted_at = now()"
                    f" WHERE item_id = :item AND {_OWNER} AND state IN ('shown', 'failed')"
                    " RETURNING id, assistant, page_url"
                ),
                {"item": item_id, "email": email, "note": note, **_owner(thread_id, ctx)},
            )
        ).one_or_none()
    return Claimed(row.id, row.assistant, row.page_url) if row is not None else None


async def finish(engine: AsyncEngine, handoff_id: int, sent: bool, deliveries: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE handoffs SET state = :state, deliveries = CAST(:deliveries AS jsonb) WHERE id = :id"
            ),
            {"id": handoff_id, "state": "sent" if sent else "failed", "deliveries": json.dumps(deliveries)},
        )


async def offered_in_thread(engine: AsyncEngine, thread_id: str, ctx: RequestContext) -> bool:
    """Whether this reader's thread already holds a hand-off form (sent or not)."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            text(f"SELECT EXISTS (SELECT 1 FROM handoffs WHERE {_OWNER})"), _owner(thread_id, ctx)
        )
    return bool(found)
