"""Retention: old conversations and records go, recent ones stay, one instance at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from docsdesk.core.locks import session_lock
from docsdesk.insights.retention import RETENTION_LOCK, purge
from tests.docsdesk.insights.seed import seed, seed_thread, turn


async def exists(engine, table: str, column: str, value: str) -> bool:
    async with engine.connect() as conn:
        return bool(
            await conn.scalar(text(f"SELECT count(*) FROM {table} WHERE {column} = :v"), {"v": value})
        )


async def test_retention_deletes_old_data_under_an_advisory_lock(engine):
    collection = "retention"
    long_ago = datetime.now(UTC) - timedelta(days=100)
    old = await seed_thread(engine, created_at=long_ago)
    active = await seed_thread(engine, created_at=long_ago)  # old, but with a recent item
    recent = await seed_thread(engine)
    async with engine.begin() as conn:
        for item, thread, when in [
            ("msg_old_" + old[-8:], old, long_ago),
            ("msg_new_" + active[-8:], active, datetime.now(UTC)),
        ]:
            await conn.execute(
                text(
                    "INSERT INTO items (id, thread_id, tenant_id, user_id, data, created_at) "
                    "VALUES (:i, :t, '', 'seed-user', '{}'::jsonb, :w)"
                ),
                {"i": item, "t": thread, "w": when},
            )
        await conn.execute(
            text(
                "INSERT INTO feedback (item_id, thread_id, tenant_id, user_id, kind) "
                "VALUES (:i, :t, '', 'seed-user', 'negative')"
            ),
            {"i": "msg_old_" + old[-8:], "t": old},
        )
        await conn.execute(
            text(
                "INSERT INTO attachments (id, thread_id, tenant_id, user_id, data, created_at) "
                "VALUES (:i, NULL, '', 'seed-user', '{}'::jsonb, :w)"
            ),
            {"i": "atc_" + old[-8:], "w": long_ago},
        )
    await seed(
        engine,
        [
            turn(old, "old", collection, ago_days=100),
            turn(active, "old turn of an active thread", collection, ago_days=100),
            turn(active, "new turn", collection),
            turn(recent, "recent", collection),
        ],
    )

    # Another instance holds the lock: this one skips the round and deletes nothing.
    async with session_lock(engine, RETENTION_LOCK) as holder:
        assert holder is not None
        assert await purge(engine, 30) is None
        assert await exists(engine, "threads", "id", old)

    purged = await purge(engine, 30)
    assert purged is not None and purged.threads >= 1 and purged.attachments >= 1
    assert not await exists(engine, "threads", "id", old)
    assert not await exists(engine, "items", "thread_id", old)
    assert not await exists(engine, "feedback", "thread_id", old)
    assert not await exists(engine, "turns", "thread_id", old)
    assert not await exists(engine, "attachments", "id", "atc_" + old[-8:])
    assert await exists(engine, "threads", "id", active) and await exists(engine, "threads", "id", recent)
    async with engine.connect() as conn:
        left = (
            (await conn.execute(text("SELECT question FROM turns WHERE thread_id = :t"), {"t": active}))
            .scalars()
            .all()
        )
    assert left == ["new turn"]


async def test_retention_per_assistant(engine):
    from docsdesk.insights.retention import retention_plan

    long_ago = datetime.now(UTC) - timedelta(days=40)
    keep_long, purge_soon = (
        await seed_thread(engine, created_at=long_ago),
        await seed_thread(engine, created_at=long_ago),
    )
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE threads SET assistant = 'archive' WHERE id = :t"), {"t": keep_long})
        await conn.execute(text("UPDATE threads SET assistant = 'support' WHERE id = :t"), {"t": purge_soon})
    await seed(engine, [turn(keep_long, "kept", "retention-a", ago_days=40)])
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE turns SET assistant = 'archive' WHERE thread_id = :t"), {"t": keep_long}
        )

    plan = retention_plan({"archive": 365, "support": 30, "docs": None}, None)
    assert plan == [("archive", 365), ("support", 30)]
    assert retention_plan({"a": 30, "b": 30}, 30) == [(None, 30)]  # uniform: one pass, as before
    assert retention_plan({"a": None}, None) == []
    for assistant, days in plan:
        assert await purge(engine, days, assistant=assistant) is not None
    assert not await exists(engine, "threads", "id", purge_soon)
    assert await exists(engine, "threads", "id", keep_long) and await exists(
        engine, "turns", "thread_id", keep_long
    )
