"""turns: one record per assistant turn, for the docs team's insights

Each row is what one turn asked, searched, cited and ended as. `thread_id` cascades from
threads, so deleting a conversation deletes its records. Feedback on an answer links to its
turn through `turns.answer_item_id` (= `feedback.item_id`). `question_key` groups
near-duplicate questions: the sorted, stemmed English lexemes of the question (full-text
normalisation). pg_trgm, when the server offers it, adds a trigram index used to merge
groups that differ by a typo; without it grouping is by the key alone.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE turns (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            thread_id        text NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            question_item_id text,
            answer_item_id   text,
            tenant_id        text NOT NULL DEFAULT '',
            user_hash        text NOT NULL,
            collection       text NOT NULL DEFAULT '',
            question         text NOT NULL,
            question_key     text GENERATED ALWAYS AS (
                coalesce(nullif(strip(to_tsvector('english'::regconfig, question))::text, ''),
                         lower(btrim(regexp_replace(question, '\\s+', ' ', 'g'))))
            ) STORED,
            page_url         text,
            page_title       text,
            searches         jsonb NOT NULL DEFAULT '[]'::jsonb,
            cited_urls       text[] NOT NULL DEFAULT '{}',
            answer           text NOT NULL DEFAULT '',
            outcome          text NOT NULL,
            model            text NOT NULL DEFAULT '',
            first_text_ms    integer,
            duration_ms      integer,
            input_tokens     integer,
            output_tokens    integer,
            created_at       timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_turns_outcome
                CHECK (outcome IN ('answered', 'not_covered', 'error', 'cancelled'))
        )
        """
    )
    op.execute("CREATE INDEX ix_turns_scope_time ON turns (collection, tenant_id, created_at, id)")
    op.execute("CREATE INDEX ix_turns_time ON turns (created_at, id)")
    op.execute("CREATE INDEX ix_turns_thread ON turns (thread_id)")
    op.execute("CREATE INDEX ix_turns_answer ON turns (answer_item_id)")
    op.execute(
        """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
                BEGIN
                    CREATE EXTENSION IF NOT EXISTS pg_trgm;
                EXCEPTION WHEN insufficient_privilege THEN
                    RAISE NOTICE 'pg_trgm is available but this role may not create it';
                END;
            END IF;
        END
        $$
        """
    )
    # Retention deletes old threads by creation time.
    op.execute("CREATE INDEX IF NOT EXISTS ix_threads_created ON threads (created_at)")
    op.execute("CREATE INDEX IF NOT EXISTS ix_attachments_created ON attachments (created_at)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_attachments_created")
    op.execute("DROP INDEX IF EXISTS ix_threads_created")
    op.execute("DROP TABLE IF EXISTS turns")
