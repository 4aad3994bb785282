"""turns: the `small_talk` outcome

A reader's greeting, thanks, goodbye or acknowledgement ("hi", "thanks!", "ok that worked") is
recorded with the outcome `small_talk`, decided from the reader's message
(`docsdesk.assistant.intents.small_talk`), so the insights report counts it apart from the
questions and keeps it out of the top questions.

Revision ID: 0019
Revises: 0018
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE turns DROP CONSTRAINT ck_turns_outcome,
            ADD CONSTRAINT ck_turns_outcome
                CHECK (outcome IN ('answered', 'not_covered', 'error', 'cancelled', 'small_talk'))
        """
    )


def downgrade() -> None:
    op.execute(
        """
        UPDATE turns SET outcome = 'answered' WHERE outcome = 'small_talk';
        ALTER TABLE turns DROP CONSTRAINT ck_turns_outcome,
            ADD CONSTRAINT ck_turns_outcome CHECK (outcome IN ('answered', 'not_covered', 'error', 'cancelled'))
        """
    )
