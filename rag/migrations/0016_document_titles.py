"""document titles: an index to find a collection's page by its title

Search (`rag.page_evidence`) asks, for the sections of the pages it ranks best, whether a
section's heading is the title of another page of the collection (a signpost section of an
overview page, which the reader should not get instead of the page it points at). The index
makes each such look-up a probe, whatever the size of the collection.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX docs_documents_title ON docs_documents (collection, lower(title))")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS docs_documents_title")
