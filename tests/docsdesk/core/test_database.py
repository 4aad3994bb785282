from sqlalchemy import text

from docsdesk.core.database import current_revision, head_revision


async def test_database_answers_and_is_at_head(engine):
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
    assert await current_revision(engine) == head_revision()


async def test_idle_connections_are_pinged_and_dead_ones_replaced(settings, monkeypatch):
    from docsdesk.core import database

    engine = database.create_engine(settings.database_url, settings)
    try:
        async with engine.connect() as conn:
            backend = await conn.scalar(text("SELECT pg_backend_pid()"))
        # Kill the pooled connection's backend behind the pool's back, then pretend it idled.
        async with engine.connect() as conn:
            pass
        killer = database.create_engine(settings.database_url, settings)
        async with killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend})
        await killer.dispose()
        monkeypatch.setattr(database, "PRE_PING_AFTER_IDLE_SECONDS", 0.0)
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != backend
    finally:
        await engine.dispose()


def test_head_revision_read_from_the_files_is_alembics():
    from alembic.script import ScriptDirectory

    from docsdesk.core import database

    alembic_head = ScriptDirectory.from_config(
        database._alembic_config("postgresql+asyncpg://")
    ).get_current_head()
    assert database.head_revision() == alembic_head
