"""turns: why a not-covered turn was not covered

`not_covered_reason` is set, with the outcome, by the code that decided it (the offline
answerer, the model's `report_not_covered` call, an MCP search): one of
`docsdesk.core.turn.NotCoveredReason`. NULL for every other outcome, and for the not-covered
turns recorded before this revision (the insights report shows them as "not recorded").

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE turns ADD COLUMN not_covered_reason text,
            ADD CONSTRAINT ck_turns_not_covered_reason
                CHECK (not_covered_reason IS NULL OR outcome = 'not_covered')
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE turns DROP COLUMN not_covered_reason")
