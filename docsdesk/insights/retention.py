"""Retention (DOCSDESK_RETENTION_DAYS): delete what is older than N days, once a day.

A conversation goes as a whole once its last item is older than the cutoff (its items,
attachments, feedback and turn records follow by ON DELETE CASCADE); turn records and
feedback older than the cutoff go even from a conversation that is still active; so do
attachments never attached to a thread. Several instances may run this: a PostgreSQL
advisory lock lets one of them do it and the others skip the round. Deletes run in batches,
each its own short transaction, on the one connection that holds the lock.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.core.locks import session_lock

log = logging.getLogger("docsdesk.retention")

RETENTION_LOCK = "docsdesk.retention"
BATCH = 2_000
DAY_SECONDS = 24 * 3600

# `{only}` is "" for every assistant, or a condition on the row's assistant (:assistant).
_STEPS = {
    "threads": """
        DELETE FROM threads WHERE id IN (
            SELECT t.id FROM threads t
            WHERE t.created_at < :cutoff {only_t}
              AND NOT EXISTS (SELECT 1 FROM items i WHERE i.thread_id = t.id AND i.created_at >= :cutoff)
            LIMIT :batch)
    """,
    "turns": "DELETE FROM turns WHERE id IN (SELECT id FROM turns t WHERE created_at < :cutoff {only_t} LIMIT :batch)",
    "feedback": """
        DELETE FROM feedback WHERE item_id IN (
            SELECT f.item_id FROM feedback f JOIN threads t ON t.id = f.thread_id
            WHERE f.created_at < :cutoff {only_t} LIMIT :batch)
    """,
    "attachments": """
        DELETE FROM attachments WHERE id IN (
            SELECT id FROM attachments WHERE thread_id IS NULL AND created_at < :cutoff LIMIT :batch)
    """,
}
_ONLY = "AND t.assistant = :assistant"
# A plan: (assistant, days) pairs; assistant None = every assistant (and unattached uploads).
Plan = list[tuple[str | None, int]]


@dataclass
class Purged:
    threads: int = 0
    turns: int = 0
    feedback: int = 0
    attachments: int = 0

    def describe(self) -> str:
        return ", ".join(f"{getattr(self, name)} {name}" for name in _STEPS)


async def purge(
    engine: AsyncEngine, days: int, *, now: datetime | None = None, assistant: str | None = None
) -> Purged | None:
    """Delete what is older than `days` days: everything, or (`assistant`) that assistant's
    conversations, turn records and feedback. None when another instance holds the lock."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    purged = Purged()
    async with session_lock(engine, RETENTION_LOCK) as conn:
        if conn is None:
            return None
        for name, sql in _STEPS.items():
            if assistant is not None and name == "attachments":
                continue  # uploads never attached belong to no assistant
            statement = text(sql.format(only_t=_ONLY if assistant is not None else ""))
            params = {"cutoff": cutoff, "batch": BATCH, "assistant": assistant}
            while True:
                # Autocommit: each batch is its own transaction; locks are held briefly.
                result = await conn.execute(statement, params)
                setattr(purged, name, getattr(purged, name) + result.rowcount)
                if result.rowcount < BATCH:
                    break
    return purged


def retention_plan(per_assistant: dict[str, int | None], default_days: int | None) -> Plan:
    """What to purge: one pass over everything when every assistant keeps the deployment's
    DOCSDESK_RETENTION_DAYS, else one pass per assistant that has a retention."""
    if all(days == default_days for days in per_assistant.values()):
        return [] if default_days is None else [(None, default_days)]
    return [(name, days) for name, days in per_assistant.items() if days is not None]


async def retention_loop(
    engine: AsyncEngine, days: int | Callable[[], Plan], *, interval: float = DAY_SECONDS
) -> None:
    """Purge shortly after start-up, then every `interval` seconds, until cancelled. `days`:
    one retention for everything, or a function giving the current plan (it follows reloads)."""
    await asyncio.sleep(random.uniform(5, 60))  # instances started together do not race
    while True:
        plan = [(None, days)] if isinstance(days, int) else days()
        for assistant, keep in plan:
            try:
                purged = await purge(engine, keep, assistant=assistant)
                who = f" ({assistant})" if assistant else ""
                if purged is None:
                    log.info("retention: another instance is purging; skipped")
                else:
                    log.info(
                        "retention%s: deleted what is older than %d days: %s", who, keep, purged.describe()
                    )
            except Exception:
                log.exception("retention purge failed; will retry at the next round")
        await asyncio.sleep(interval)
