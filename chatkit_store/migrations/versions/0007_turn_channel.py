"""turns: the channel a turn came through, and search-only turns without a thread

`channel` is `widget` for a conversation turn (every existing row) and `mcp` for a search an
agent made over the Model Context Protocol (docsdesk/mcp). Such a search belongs to no
conversation, so `thread_id` may be NULL; a turn with a thread still cascades from it.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE turns ADD COLUMN channel text NOT NULL DEFAULT 'widget'")
    op.execute("ALTER TABLE turns ALTER COLUMN thread_id DROP NOT NULL")
    op.execute("CREATE INDEX ix_turns_channel_time ON turns (channel, created_at)")


def downgrade() -> None:
    op.execute("DELETE FROM turns WHERE thread_id IS NULL")
    op.execute("DROP INDEX IF EXISTS ix_turns_channel_time")
    op.execute("ALTER TABLE turns ALTER COLUMN thread_id SET NOT NULL")
    op.execute("ALTER TABLE turns DROP COLUMN channel")
