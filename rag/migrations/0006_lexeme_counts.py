"""docs search: exact per-collection lexeme counts for term rarity

`docs_lexemes (collection, lexeme, chunks)` holds, for each collection, how many of its
chunks contain each lexeme of `docs_chunks.tsv`; the row with the empty lexeme (never a
real one) holds the collection's chunk count. Statement-level triggers with transition
tables keep it exact as chunks are inserted, updated and deleted (including deletes cascaded
from documents and collections), in the writing transaction, so a search always reads the
counts of the chunks it can see. Search weighs each query term by this count (BM25's idf)
instead of the planner's sampled, all-collections statistics.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# One row per (collection, lexeme) a chunk holds, plus one (collection, '') per chunk.
_COUNTED = """
    SELECT r.collection, l.lexeme, count(*) AS chunks
    FROM {rows} r CROSS JOIN LATERAL unnest(array_append(tsvector_to_array(r.tsv), '')) AS l(lexeme)
    GROUP BY r.collection, l.lexeme
"""


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE docs_lexemes (
            collection text NOT NULL,
            lexeme     text NOT NULL,
            chunks     integer NOT NULL,
            PRIMARY KEY (lexeme, collection)  -- a query's lexemes, in one or all collections
        )
        """
    )
    op.execute("CREATE INDEX docs_lexemes_unused ON docs_lexemes (collection) WHERE chunks <= 0")
    op.execute(
        f"""
        CREATE FUNCTION docs_lexemes_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('DELETE', 'UPDATE') THEN
                UPDATE docs_lexemes l SET chunks = l.chunks - gone.chunks
                FROM ({_COUNTED.format(rows="removed_chunks")}) AS gone
                WHERE l.collection = gone.collection AND l.lexeme = gone.lexeme;
                DELETE FROM docs_lexemes WHERE chunks <= 0;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO docs_lexemes (collection, lexeme, chunks)
                {_COUNTED.format(rows="added_chunks")}
                ORDER BY 2, 1  -- one lock order for concurrent writers
                ON CONFLICT (collection, lexeme) DO UPDATE SET chunks = docs_lexemes.chunks + excluded.chunks;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    for event, tables in (
        ("INSERT", "NEW TABLE AS added_chunks"),
        ("DELETE", "OLD TABLE AS removed_chunks"),
        ("UPDATE", "OLD TABLE AS removed_chunks NEW TABLE AS added_chunks"),
    ):
        op.execute(
            f"CREATE TRIGGER docs_lexemes_{event.lower()} AFTER {event} ON docs_chunks"
            f" REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION docs_lexemes_count()"
        )
    op.execute(f"INSERT INTO docs_lexemes (collection, lexeme, chunks) {_COUNTED.format(rows='docs_chunks')}")


def downgrade() -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS docs_lexemes_{event} ON docs_chunks")
    op.execute("DROP FUNCTION IF EXISTS docs_lexemes_count()")
    op.execute("DROP TABLE IF EXISTS docs_lexemes")
