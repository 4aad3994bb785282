"""docs search: exact per-collection lexeme counts for term rarity

`docs_lexemes (collection, lexeme, chunks)` is a log of changes to how many of a
collection's chunks hold each lexeme of `docs_chunks.tsv`: the count is the sum of a
lexeme's rows; the empty lexeme (never a real one) counts the collection's chunks.
Statement-level triggers with transition tables append a row per lexeme a statement added
(+) or removed (-) chunks for, including deletes cascaded from documents and collections, in
the writing transaction: a search always reads the counts of the chunks it can see.
Appending never updates a shared row, so concurrent ingest writers never wait on one another
(nor deadlock); `rag.schema.compact_lexeme_counts` folds a collection's rows into one per
lexeme after each ingest. Search weighs each query term by this count (BM25's idf) instead
of the planner's sampled, all-collections statistics.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# One row per (collection, lexeme) the chunks of `rows` hold, plus one (collection, '') per chunk.
_COUNTED = """
    SELECT r.collection, l.lexeme, {sign}count(*)
    FROM {rows} r CROSS JOIN LATERAL unnest(array_append(tsvector_to_array(r.tsv), '')) AS l(lexeme)
    GROUP BY r.collection, l.lexeme
"""


def upgrade() -> None:
    op.execute(
        "CREATE TABLE docs_lexemes (collection text NOT NULL, lexeme text NOT NULL, chunks integer NOT NULL)"
    )
    # A query's lexemes, in one or all collections (compaction scans the table: one index to keep).
    op.execute("CREATE INDEX docs_lexemes_lexeme ON docs_lexemes (lexeme, collection)")
    op.execute(
        f"""
        CREATE FUNCTION docs_lexemes_count() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('DELETE', 'UPDATE') THEN
                INSERT INTO docs_lexemes (collection, lexeme, chunks)
                {_COUNTED.format(rows="removed_chunks", sign="-")};
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                INSERT INTO docs_lexemes (collection, lexeme, chunks)
                {_COUNTED.format(rows="added_chunks", sign="")};
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
    op.execute(
        f"INSERT INTO docs_lexemes (collection, lexeme, chunks) {_COUNTED.format(rows='docs_chunks', sign='')}"
    )


def downgrade() -> None:
    for event in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS docs_lexemes_{event} ON docs_chunks")
    op.execute("DROP FUNCTION IF EXISTS docs_lexemes_count()")
    op.execute("DROP TABLE IF EXISTS docs_lexemes")
