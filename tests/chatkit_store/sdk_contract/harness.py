"""The database the SDK's tests run on: a dedicated PostgreSQL database, emptied before each
test, since the SDK's tests use fixed ids ("test_thread", "msg1", user "test_user") and expect
to start from an empty store, as they do with their in-memory SQLite store."""

from __future__ import annotations

import secrets

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_store import PostgresStore
from docsdesk.core.database import create_engine, migrate
from docsdesk.core.settings import Settings

_engine: AsyncEngine | None = None


def engine() -> AsyncEngine:
    if _engine is None:
        raise RuntimeError("the sdk_contract_database fixture has not run")
    return _engine


def store() -> PostgresStore:
    return PostgresStore(engine())


async def create(server_engine: AsyncEngine, settings: Settings) -> tuple[AsyncEngine, str]:
    """A new migrated database next to the session one; (engine, name)."""
    global _engine
    name = f"sdk_contract_{secrets.token_hex(4)}"
    admin = server_engine.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_engine.url.render_as_string(hide_password=False)).set(database=name)
    rendered = url.render_as_string(hide_password=False)
    await migrate(rendered)
    _engine = create_engine(rendered, settings)
    return _engine, name


async def empty() -> None:
    async with engine().begin() as conn:
        await conn.execute(text("TRUNCATE threads, items, attachments, feedback CASCADE"))


async def drop(server_engine: AsyncEngine, name: str) -> None:
    global _engine
    if _engine is not None:
        await _engine.dispose()
        _engine = None
    admin = server_engine.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
