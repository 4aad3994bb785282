"""docs search ranking: identifier terms in the weighted full-text vector

Adds `docs_chunks.identifiers` (the parts and wholes of the identifiers of the chunk, from
`docsdesk.core.terms.identifier_terms`, weighted 'C') and rebuilds the `tsv` column over title and
headings ('A'), text ('B') and identifiers ('C'). The chunking changed with it (sibling
sections keep their own anchors), so every document's content hash is cleared: the next
`docsdesk ingest` re-chunks each file once (embeddings of unchanged chunk text are reused).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TSV = """
    setweight(to_tsvector('english'::regconfig, heading_text), 'A')
    || setweight(to_tsvector('english'::regconfig, text), 'B')
    || setweight(to_tsvector('english'::regconfig, identifiers), 'C')
"""
OLD_TSV = """
    setweight(to_tsvector('english'::regconfig, heading_text), 'A')
    || setweight(to_tsvector('english'::regconfig, text), 'B')
"""


def _rebuild_tsv(expression: str) -> None:
    op.execute("DROP INDEX IF EXISTS docs_chunks_tsv")
    op.execute("ALTER TABLE docs_chunks DROP COLUMN tsv")
    op.execute(f"ALTER TABLE docs_chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({expression}) STORED")
    op.execute("CREATE INDEX docs_chunks_tsv ON docs_chunks USING gin (tsv)")


def upgrade() -> None:
    op.execute("ALTER TABLE docs_chunks ADD COLUMN identifiers text NOT NULL DEFAULT ''")
    _rebuild_tsv(TSV)
    op.execute("UPDATE docs_documents SET content_hash = ''")


def downgrade() -> None:
    _rebuild_tsv(OLD_TSV)
    op.execute("ALTER TABLE docs_chunks DROP COLUMN identifiers")
    op.execute("UPDATE docs_documents SET content_hash = ''")
