"""sources: each collection's document sources (site, crawl, git) and their documents' versions

`docs_sources` records a source by name: the collection it feeds, its kind and settings, and
its last sync (when, how long, counts, per-document failures). `docs_source_documents` keeps
each document's version as the source gave it (an ETag or Last-Modified date, a git blob id),
its URL and, for a crawl, the links the page held, so a re-sync asks conditionally and
re-reads only what changed.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE docs_sources (
            name           text PRIMARY KEY,
            collection     text NOT NULL,
            kind           text NOT NULL,
            settings       jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at     timestamptz NOT NULL DEFAULT now(),
            last_sync_at   timestamptz,
            last_seconds   double precision,
            fetched        integer,
            added          integer,
            changed        integer,
            removed        integer,
            unchanged      integer,
            failed         integer,
            failures       jsonb NOT NULL DEFAULT '[]'::jsonb,
            last_error     text
        )
        """
    )
    op.execute("CREATE INDEX docs_sources_collection ON docs_sources (collection)")
    op.execute(
        """
        CREATE TABLE docs_source_documents (
            source   text NOT NULL REFERENCES docs_sources (name) ON DELETE CASCADE,
            key      text NOT NULL,
            url      text NOT NULL,
            version  text NOT NULL,
            links    jsonb,
            PRIMARY KEY (source, key)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS docs_source_documents")
    op.execute("DROP TABLE IF EXISTS docs_sources")
