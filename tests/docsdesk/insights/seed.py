"""Seeding turn records straight into the real tables (threads first: records reference them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from docsdesk.core.turn import NotCoveredReason
from docsdesk.insights.turns import SearchRecord, TurnRecord, write_turns


async def seed_thread(
    engine, tenant: str = "", user: str = "seed-user", created_at: datetime | None = None
) -> str:
    thread_id = "thr_" + uuid.uuid4().hex
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO threads (id, tenant_id, user_id, data, created_at) "
                "VALUES (:id, :tenant, :user, CAST(:data AS jsonb), :created)"
            ),
            {
                "id": thread_id,
                "tenant": tenant,
                "user": user,
                "data": f'{{"id": "{thread_id}", "created_at": "2026-01-01T00:00:00", "status": {{"type": "active"}}}}',
                "created": created_at or datetime.now(UTC),
            },
        )
    return thread_id


def turn(
    thread_id: str,
    question: str,
    collection: str,
    *,
    outcome: str = "answered",
    tenant: str = "",
    cited: list[str] | None = None,
    answer_item_id: str | None = None,
    ago_days: float = 0,
    first_ms: int = 300,
    not_in_docs: list[str] | None = None,
    reason: NotCoveredReason | None = None,
    follows: str | None = None,
) -> TurnRecord:
    return TurnRecord(
        thread_id=thread_id,
        question_item_id="msg_" + uuid.uuid4().hex,
        tenant_id=tenant,
        user_hash="0123456789abcdef",
        collection=collection,
        question=question,
        outcome=outcome,
        model="offline",
        created_at=datetime.now(UTC) - timedelta(days=ago_days),
        answer_item_id=answer_item_id,
        answer=f"Answer to {question}",
        searches=[
            SearchRecord(
                question,
                0 if outcome == "not_covered" else 3,
                None if outcome == "not_covered" else 0.03,
                not_in_docs or [],
            )
        ],
        cited_urls=cited or [],
        first_text_ms=first_ms,
        duration_ms=first_ms * 3,
        not_covered_reason=reason,
        follows=follows,
    )


async def seed(engine, records: list[TurnRecord]) -> None:
    for start in range(0, len(records), 1000):
        await write_turns(engine, records[start : start + 1000])
