"""One conversation as the docs team sees it: its messages, sources, feedback and turn records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.insights.reasons import label

MAX_ITEMS = 500

_THREAD = text(
    "SELECT id, tenant_id, assistant, data->>'title' AS title, created_at FROM threads WHERE id = :thread"
)
_ITEMS = text(
    """
    SELECT i.id, i.data, i.created_at, f.kind AS feedback
    FROM items i LEFT JOIN feedback f ON f.item_id = i.id
    WHERE i.thread_id = :thread ORDER BY i.seq LIMIT :limit
    """
)
_TURNS = text(
    """
    SELECT question_item_id, answer_item_id, outcome, not_covered_reason, searches, cited_urls, model,
           first_text_ms, duration_ms, input_tokens, output_tokens, user_hash, collection,
           page_url, created_at
    FROM turns WHERE thread_id = :thread ORDER BY created_at, id
    """
)


def _item(row: Any) -> dict[str, Any] | None:
    data = row.data
    kind = data.get("type")
    entry: dict[str, Any] = {"id": row.id, "type": kind, "created_at": row.created_at.isoformat()}
    if kind == "user_message":
        entry["text"] = "".join(
            part.get("text", "") if part.get("type") == "input_text" else "@" + part.get("text", "")
            for part in data.get("content", [])
        )
    elif kind == "assistant_message":
        parts = data.get("content", [])
        entry["text"] = "".join(part.get("text", "") for part in parts)
        entry["sources"] = [
            {"url": a["source"].get("url"), "title": a["source"].get("title")}
            for part in parts
            for a in part.get("annotations", [])
            if isinstance(a.get("source"), dict)
        ]
        entry["feedback"] = row.feedback
    elif kind == "hidden_context_item":
        page = (data.get("content") or {}).get("page") if isinstance(data.get("content"), dict) else None
        if not page:
            return None
        entry["type"] = "page_context"
        entry["page"] = page
    else:
        return None
    return entry


async def conversation(engine: AsyncEngine, thread_id: str, tenant: str | None) -> dict[str, Any] | None:
    """The thread with its messages and turn records; None when there is no such thread
    (or it belongs to another tenant than `tenant`, when one is given)."""
    async with engine.connect() as conn:
        thread = (await conn.execute(_THREAD, {"thread": thread_id})).first()
        if thread is None or (tenant is not None and thread.tenant_id != tenant):
            return None
        items = (await conn.execute(_ITEMS, {"thread": thread_id, "limit": MAX_ITEMS})).all()
        turns = (await conn.execute(_TURNS, {"thread": thread_id})).mappings().all()
    return {
        "thread_id": thread.id,
        "title": thread.title,
        "tenant": thread.tenant_id,
        "assistant": thread.assistant,
        "created_at": thread.created_at.isoformat(),
        "items": [entry for row in items if (entry := _item(row)) is not None],
        "turns": [
            {
                **turn,
                "not_covered_label": label(turn["not_covered_reason"])
                if turn["outcome"] == "not_covered"
                else None,
                "cited_urls": list(turn["cited_urls"]),
                "created_at": turn["created_at"].isoformat(),
            }
            for turn in turns
        ],
    }
