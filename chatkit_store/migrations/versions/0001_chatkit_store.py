"""chatkit store: threads, items, attachments, feedback

Revision ID: 0001
Revises:
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the store work


def downgrade() -> None:
    pass
