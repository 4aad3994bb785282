"""reader terms: a collection's own reader phrases and the documentation terms they stand for

`docs_reader_terms` holds the rows a docs team adds for a collection (`docsdesk terms`, the
admin API): a reader's phrase and the terms its documentation uses, unique per phrase (its word
stems, `phrase_key`) within a tenant and a collection; tenant '' rows apply to every reader of
the collection, a tenant's rows to that tenant's readers only. Search joins them to the
generic thesaurus (rag.reader_vocabulary).

`docs_reader_term_versions` is bumped (to the sequence's next value) by every change of a
(tenant, collection)'s rows; a version row is never deleted, so the sum of the versions in a
search's scope grows with every committed change. Search reads that sum in the statement it
already runs and reloads its cached rows only when it moved: every server process sees a
change on its next search, without an extra round trip per search.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE docs_reader_terms (
            tenant      text NOT NULL DEFAULT '',
            collection  text NOT NULL,
            phrase_key  text NOT NULL,
            reader      text NOT NULL,
            docs        text[] NOT NULL CHECK (cardinality(docs) > 0),
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant, collection, phrase_key)
        )
        """
    )
    op.execute("CREATE INDEX docs_reader_terms_collection ON docs_reader_terms (collection)")
    op.execute("CREATE SEQUENCE docs_reader_terms_version")
    op.execute(
        """
        CREATE TABLE docs_reader_term_versions (
            tenant      text NOT NULL,
            collection  text NOT NULL,
            version     bigint NOT NULL,
            PRIMARY KEY (tenant, collection)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS docs_reader_term_versions")
    op.execute("DROP SEQUENCE IF EXISTS docs_reader_terms_version")
    op.execute("DROP TABLE IF EXISTS docs_reader_terms")
