"""source skips: the pages a source's last sync skipped on purpose (disallowed by robots.txt)

Listed apart from `failures` (what could not be read): a skip is the site's wish, not an error,
and counts as neither failed nor fetched.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE docs_sources ADD COLUMN skipped jsonb NOT NULL DEFAULT '[]'::jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE docs_sources DROP COLUMN IF EXISTS skipped")
