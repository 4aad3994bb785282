"""job history: an index for "the newest ended job of a kind per collection" (the console's last
upload, the pruning of old jobs) so neither reads the whole history.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX docs_jobs_ended ON docs_jobs (kind, collection, id DESC)"
        " WHERE state IN ('succeeded', 'failed', 'cancelled')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS docs_jobs_ended")
