"""Advisory locks on real PostgreSQL: one key per name, the transaction locks and the session
try-lock every module uses (ingest, vector index, migrations, clean-up, quota, retention)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from docsdesk.core.locks import lock_key, session_lock, try_xact_lock, xact_lock, xact_lock_sync
from tests.support import new_id


def test_lock_key_is_a_stable_signed_bigint_per_name():
    key = lock_key("docsdesk.ingest:guides")
    assert key == lock_key("docsdesk.ingest:guides")
    assert -(2**63) <= key < 2**63
    # Fixed across releases and processes (not Python's salted hash()): a pinned value.
    assert lock_key("docsdesk.migrate") == 2488584699481960784
    names = [f"docsdesk.attachments.quota:{n}" for n in range(2000)]
    assert len({lock_key(name) for name in names}) == len(names)
    with pytest.raises(ValueError):
        lock_key("")


async def held_by_others(engine, name: str) -> bool:
    """Whether some other session holds the lock `name` (seen from a fresh connection)."""
    async with engine.connect() as conn:
        free = await conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key(name)})
        await conn.rollback()
    return not free


async def test_transaction_locks_last_until_the_transaction_ends(engine):
    name = f"test.xact:{new_id()}"
    async with engine.begin() as conn:
        await xact_lock(conn, name)
        assert await held_by_others(engine, name)
        async with engine.begin() as other:
            assert await try_xact_lock(other, name) is False
    assert not await held_by_others(engine, name)
    async with engine.begin() as conn:
        assert await try_xact_lock(conn, name) is True
        assert await held_by_others(engine, name)


async def test_the_synchronous_transaction_lock_is_the_same_lock(engine):
    name = f"test.sync:{new_id()}"
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: xact_lock_sync(sync, name))
        async with engine.begin() as other:
            assert await try_xact_lock(other, name) is False


async def test_a_session_lock_is_held_across_commits_and_released_on_exit(engine):
    name = f"test.session:{new_id()}"
    async with session_lock(engine, name) as conn:
        assert conn is not None
        await conn.execute(text("SELECT 1"))  # autocommit: no transaction keeps it
        assert await held_by_others(engine, name)
        async with session_lock(engine, name) as second:
            assert second is None
    assert not await held_by_others(engine, name)


async def test_a_session_lock_is_released_when_its_body_fails(engine):
    name = f"test.failing:{new_id()}"
    with pytest.raises(RuntimeError):
        async with session_lock(engine, name) as conn:
            assert conn is not None
            raise RuntimeError("boom")
    assert not await held_by_others(engine, name)


async def test_a_connection_that_cannot_unlock_is_dropped_with_its_lock(engine):
    name = f"test.broken:{new_id()}"
    async with session_lock(engine, name) as conn:
        assert conn is not None
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            await admin.commit()
    assert not await held_by_others(engine, name)
