"""PostgreSQL advisory locks: one key derivation, and the three ways docsdesk takes them.

A lock is named by a string (``"docsdesk.ingest:guides"``); `lock_key` turns the name into
the signed 64-bit key PostgreSQL takes, the same in every process and every release (the first
eight bytes of its BLAKE2b digest), so two names collide only by chance (1 in 2**64), never
because two modules picked the same small constant.

- `xact_lock` / `try_xact_lock`: held until the surrounding transaction ends (a migration, an
  upload's quota check, a clean-up round). `xact_lock_sync` is `xact_lock` for a synchronous
  connection (Alembic's environment).
- `session_lock`: a try-lock held on a connection of its own across commits (an ingest, a
  retention purge); it yields that connection (in autocommit mode) or None when another
  session holds the lock, and releases it on exit, or drops the connection if it cannot.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("docsdesk.core.locks")

_XACT_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_TRY_XACT_LOCK = text("SELECT pg_try_advisory_xact_lock(:key)")
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = text("SELECT pg_advisory_unlock(:key)")


def lock_key(name: str) -> int:
    """The advisory-lock key of `name`: a signed 64-bit integer (PostgreSQL's bigint)."""
    if not name:
        raise ValueError("an advisory lock needs a name")
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def xact_lock(conn: AsyncConnection, name: str) -> None:
    """Wait for the lock `name`; it is held until `conn`'s transaction ends."""
    await conn.execute(_XACT_LOCK, {"key": lock_key(name)})


async def try_xact_lock(conn: AsyncConnection, name: str) -> bool:
    """Take the lock `name` for `conn`'s transaction if it is free; False when it is held."""
    return bool(await conn.scalar(_TRY_XACT_LOCK, {"key": lock_key(name)}))


def xact_lock_sync(conn: Connection, name: str) -> None:
    """`xact_lock` on a synchronous connection."""
    conn.execute(_XACT_LOCK, {"key": lock_key(name)})


@asynccontextmanager
async def session_lock(engine: AsyncEngine, name: str) -> AsyncIterator[AsyncConnection | None]:
    """Try the session lock `name` on a connection of its own: yields that connection (in
    autocommit mode, so each statement on it commits at once) while the lock is held, or None
    when another session holds it. Released on exit; a connection that cannot release it is
    closed instead of going back to the pool, which ends its session and so the lock."""
    key = lock_key(name)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        if not await conn.scalar(_TRY_LOCK, {"key": key}):
            yield None
            return
        try:
            yield conn
        finally:
            try:
                await conn.execute(_UNLOCK, {"key": key})
            except Exception:
                log.warning("cannot release advisory lock %r; dropping its connection", name, exc_info=True)
                await conn.invalidate()
