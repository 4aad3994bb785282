"""assistants: threads and turn records belong to an assistant (existing ones to 'default')

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column("threads", sa.Column("assistant", sa.Text, nullable=False, server_default="default"))
    op.add_column("turns", sa.Column("assistant", sa.Text, nullable=False, server_default="default"))
    op.drop_index("ix_threads_owner_activity", table_name="threads")
    op.create_index(
        "ix_threads_owner_activity", "threads", ["tenant_id", "user_id", "assistant", "activity_seq"]
    )
    op.create_index("ix_turns_assistant_created", "turns", ["assistant", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_turns_assistant_created", table_name="turns")
    op.drop_index("ix_threads_owner_activity", table_name="threads")
    op.create_index("ix_threads_owner_activity", "threads", ["tenant_id", "user_id", "activity_seq"])
    op.drop_column("turns", "assistant")
    op.drop_column("threads", "assistant")
