from sqlalchemy import text

from database import current_revision, head_revision


async def test_database_answers_and_is_at_head(engine):
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
    assert await current_revision(engine) == head_revision()
