"""turns: `follows`, the earlier question a follow-up leans on

A reader's follow-up ("and can I turn it off?") takes its topic from their previous question.
The turn records that question (`docsdesk.assistant.follow_up.leaned_on`, decided from the
conversation for every model), so the insights report lists "can I turn it off?" once per topic,
with the question it followed, instead of one group of unrelated follow-ups.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE turns ADD COLUMN follows text")


def downgrade() -> None:
    op.execute("ALTER TABLE turns DROP COLUMN follows")
