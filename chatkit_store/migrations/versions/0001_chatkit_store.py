"""chatkit store: threads, items, attachments, feedback

Revision ID: 0001
Revises:
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.execute(sa.schema.CreateSequence(sa.Sequence("thread_activity_seq")))
    op.create_table(
        "threads",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column(
            "activity_seq",
            sa.BigInteger,
            nullable=False,
            server_default=sa.text("nextval('thread_activity_seq')"),
        ),
        sa.Column("data", JSONB, nullable=False),
        *_timestamps(),
    )
    op.create_index("ix_threads_owner_activity", "threads", ["tenant_id", "user_id", "activity_seq"])

    op.create_table(
        "items",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("thread_id", sa.Text, sa.ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        *_timestamps(),
    )
    op.create_index("ix_items_thread_owner_seq", "items", ["thread_id", "tenant_id", "user_id", "seq"])

    op.create_table(
        "attachments",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("thread_id", sa.Text, sa.ForeignKey("threads.id", ondelete="CASCADE"), nullable=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("data", JSONB, nullable=False),
        *_timestamps(),
    )
    op.create_index("ix_attachments_thread", "attachments", ["thread_id"])

    op.create_table(
        "feedback",
        sa.Column("item_id", sa.Text, sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("thread_id", sa.Text, sa.ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('positive', 'negative')", name="ck_feedback_kind"),
    )
    op.create_index("ix_feedback_thread", "feedback", ["thread_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("attachments")
    op.drop_table("items")
    op.drop_table("threads")
    op.execute(sa.schema.DropSequence(sa.Sequence("thread_activity_seq")))
