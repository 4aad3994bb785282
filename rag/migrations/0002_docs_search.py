"""docs search: collections, documents, chunks (weighted full-text), embeddings (pgvector)

The embeddings table needs the `vector` extension. It is created here only when the server
offers the extension (pg_available_extensions) and we may install it; without it the schema
is complete for full-text search and `rag.schema.ensure_vector_schema` can add the table
later, once the extension is there.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from rag.schema import EMBEDDINGS_TABLE

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE docs_collections (
            name        text PRIMARY KEY,
            embedder    text,
            dimensions  integer,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE docs_documents (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            collection    text NOT NULL REFERENCES docs_collections (name) ON DELETE CASCADE,
            root          text NOT NULL,
            source_path   text NOT NULL,
            page_url      text NOT NULL DEFAULT '',
            title         text NOT NULL DEFAULT '',
            content_hash  text NOT NULL,
            bytes         bigint NOT NULL,
            chunk_count   integer NOT NULL,
            embedder      text,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now(),
            UNIQUE (collection, root, source_path)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE docs_chunks (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            document_id   bigint NOT NULL REFERENCES docs_documents (id) ON DELETE CASCADE,
            collection    text NOT NULL,
            ordinal       integer NOT NULL,
            url           text NOT NULL,
            page_url      text NOT NULL,
            page_title    text NOT NULL,
            heading_path  text[] NOT NULL,
            heading_text  text NOT NULL,
            text          text NOT NULL,
            token_count   integer NOT NULL,
            content_hash  text NOT NULL,
            tsv           tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('english'::regconfig, heading_text), 'A')
                || setweight(to_tsvector('english'::regconfig, text), 'B')
            ) STORED,
            heading_tsv   tsvector GENERATED ALWAYS AS (
                to_tsvector('english'::regconfig, heading_text)
            ) STORED
        )
        """
    )
    op.execute("CREATE INDEX docs_chunks_tsv ON docs_chunks USING gin (tsv)")
    # Title and headings alone: where queries made only of very common words look first.
    op.execute("CREATE INDEX docs_chunks_heading_tsv ON docs_chunks USING gin (heading_tsv)")
    op.execute("CREATE INDEX docs_chunks_document ON docs_chunks (document_id, ordinal)")
    op.execute("CREATE INDEX docs_chunks_page ON docs_chunks (collection, page_url)")
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
                BEGIN
                    CREATE EXTENSION IF NOT EXISTS vector;
                EXCEPTION WHEN insufficient_privilege THEN
                    RAISE NOTICE 'pgvector is available but this role may not create it';
                END;
            END IF;
        END
        $$
        """
    )
    if op.get_bind().scalar(sa.text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')")):
        op.execute(EMBEDDINGS_TABLE)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS docs_embeddings")
    op.execute("DROP TABLE IF EXISTS docs_chunks")
    op.execute("DROP TABLE IF EXISTS docs_documents")
    op.execute("DROP TABLE IF EXISTS docs_collections")
