"""Hand-offs in the insights report: how many conversations were offered the hand-off form,
how many tickets were sent, and the deflection rate (conversations offered the form that sent
no ticket, as kapa defines it), per assistant and per day; and the tickets themselves.

Read from the `handoffs` table (migration 0007, written by docsdesk.handoff), in the report's
scope: its window and tenant, and threads that asked the report's collection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MAX_TICKETS = 100

_HANDOFF_SCOPE = """
    (CAST(:tenant AS text) IS NULL OR h.tenant_id = CAST(:tenant AS text))
    AND h.created_at >= :since AND h.created_at < :until
    AND EXISTS (SELECT 1 FROM turns t WHERE t.thread_id = h.thread_id AND t.collection = :collection)
"""

# One row per conversation shown a form: its first showing, forms shown, tickets sent.
_DEFLECTION = text(
    f"""
    WITH c AS (
        SELECT h.assistant, h.thread_id, min(h.created_at) AS first_shown, count(*) AS shown,
               count(*) FILTER (WHERE h.state = 'sent') AS sent,
               count(*) FILTER (WHERE h.state = 'failed') AS failed
        FROM handoffs h WHERE {_HANDOFF_SCOPE}
        GROUP BY h.assistant, h.thread_id
    )
    SELECT assistant, (first_shown AT TIME ZONE 'UTC')::date AS day, count(*) AS conversations,
           sum(shown) AS shown, sum(sent) AS tickets, sum(failed) AS failed,
           count(*) FILTER (WHERE sent = 0) AS deflected
    FROM c GROUP BY 1, 2 ORDER BY 2, 1
    """
)
_TICKETS = text(
    f"""
    SELECT h.id, h.assistant, h.thread_id, h.reason, h.state, h.email, h.note, h.page_url,
           h.deliveries, h.attempts, h.created_at, h.submitted_at
    FROM handoffs h WHERE h.submitted_at IS NOT NULL AND {_HANDOFF_SCOPE}
    ORDER BY h.submitted_at DESC, h.id DESC LIMIT :limit
    """
)


def rate(deflected: int, conversations: int) -> float | None:
    return round(deflected / conversations, 3) if conversations else None


def _day_row(row: Any) -> dict[str, Any]:
    return {
        "assistant": row.assistant,
        "day": row.day.isoformat(),
        "conversations": row.conversations,
        "shown": int(row.shown),
        "tickets": int(row.tickets),
        "failed": int(row.failed),
        "deflected": row.deflected,
        "deflection_rate": rate(row.deflected, row.conversations),
    }


def ticket_row(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "assistant": row.assistant,
        "thread_id": row.thread_id,
        "reason": row.reason,
        "state": row.state,
        "email": row.email,
        "note": row.note,
        "page_url": row.page_url,
        "deliveries": row.deliveries,
        "attempts": row.attempts,
        "shown_at": row.created_at.isoformat(),
        "submitted_at": row.submitted_at.isoformat(),
    }


async def handoff_report(engine: AsyncEngine, params: dict[str, Any]) -> dict[str, Any]:
    """{"per_day": [...per assistant and day], "per_assistant": {name: totals}, "tickets": [...]}"""
    async with engine.connect() as conn:
        days = [_day_row(r) for r in (await conn.execute(_DEFLECTION, params)).all()]
        tickets = [
            ticket_row(r) for r in (await conn.execute(_TICKETS, {**params, "limit": MAX_TICKETS})).all()
        ]
    per_assistant: dict[str, dict[str, Any]] = {}
    for day in days:
        total = per_assistant.setdefault(
            day["assistant"], {"conversations": 0, "shown": 0, "tickets": 0, "failed": 0, "deflected": 0}
        )
        for key in total:
            total[key] += day[key]
    for total in per_assistant.values():
        total["deflection_rate"] = rate(total["deflected"], total["conversations"])
    return {"per_day": days, "per_assistant": per_assistant, "tickets": tickets}


TICKET_FIELDS = [
    "id",
    "assistant",
    "thread_id",
    "reason",
    "state",
    "email",
    "note",
    "page_url",
    "deliveries",
    "attempts",
    "shown_at",
    "submitted_at",
]
MAX_EXPORTED_TICKETS = 100_000


async def ticket_rows(engine: AsyncEngine, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ticket of the window (newest first), for the export."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_TICKETS, {**params, "limit": MAX_EXPORTED_TICKETS})).all()
    return [ticket_row(r) for r in rows]


def delivery_summary(deliveries: list[dict[str, Any]]) -> str:
    """ "webhook ok; email failed: HTTP 503" (console, CSV and Markdown)."""
    return "; ".join(
        f"{d.get('channel')} ok" if d.get("ok") else f"{d.get('channel')} failed: {d.get('error')}"
        for d in deliveries
    )
