"""attachment bytes: per-attachment file state and chunked bytes

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachment_files",
        sa.Column(
            "attachment_id",
            sa.Text,
            sa.ForeignKey("attachments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("declared_size", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger),
        sa.Column("sha256", sa.Text),
        sa.Column("storage", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "state IN ('pending', 'uploading', 'ready', 'failed')", name="ck_attachment_files_state"
        ),
        sa.CheckConstraint("storage IN ('postgres', 'disk')", name="ck_attachment_files_storage"),
    )
    op.create_index("ix_attachment_files_owner", "attachment_files", ["tenant_id", "user_id"])
    op.create_table(
        "attachment_chunks",
        sa.Column(
            "attachment_id",
            sa.Text,
            sa.ForeignKey("attachment_files.attachment_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    # The bytes are already compressed or small text: no TOAST compression attempts.
    op.execute("ALTER TABLE attachment_chunks ALTER COLUMN data SET STORAGE EXTERNAL")
    # The clean-up of attachments never sent in a message.
    op.create_index(
        "ix_attachments_unsent",
        "attachments",
        ["created_at"],
        postgresql_where=sa.text("thread_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_attachments_unsent", table_name="attachments")
    op.drop_table("attachment_chunks")
    op.drop_table("attachment_files")
