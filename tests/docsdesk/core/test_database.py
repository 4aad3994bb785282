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


HEAD_IN_A_FRESH_PROCESS = """
import sys
from pathlib import Path
from docsdesk.core.database import head_revision
print(head_revision(Path(sys.argv[1])), "alembic" in sys.modules)
"""


def test_the_head_is_alembics_and_alembic_is_imported_only_when_the_scripts_change(tmp_path):
    import json
    import subprocess
    import sys

    from alembic.script import ScriptDirectory

    from docsdesk.core import database
    from tests.support import REPO

    alembic_head = ScriptDirectory.from_config(
        database._alembic_config("postgresql+asyncpg://")
    ).get_current_head()

    def fresh_process() -> tuple[str, bool]:
        out = subprocess.run(
            [sys.executable, "-c", HEAD_IN_A_FRESH_PROCESS, str(tmp_path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return out[0], out[1] == "True"

    assert fresh_process() == (alembic_head, True)  # first start: Alembic reads the scripts
    assert fresh_process() == (alembic_head, False)  # then the cached answer, no Alembic
    cache = tmp_path / database.HEAD_CACHE
    stored = json.loads(cache.read_text())
    cache.write_text(json.dumps({**stored, "signature": "scripts changed", "head": "stale"}))
    assert fresh_process() == (alembic_head, True)  # another signature: asked again
    cache.write_text("not json")
    assert fresh_process() == (alembic_head, True)
