"""handoffs: one row per hand-off widget shown, and what became of it

`state` is shown (the widget is in the thread), sending (a submission is being delivered:
a second submission finds it taken), sent, or failed (every channel failed; the reader may
send again). `deliveries` holds each channel's result: {"channel", "ok", "reference" or
"error"}. `thread_id` cascades from threads. Deflection (docsdesk.insights) counts shown
hand-offs without a ticket.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE handoffs (
            id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            item_id        text NOT NULL UNIQUE,
            thread_id      text NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            tenant_id      text NOT NULL DEFAULT '',
            user_id        text NOT NULL,
            assistant      text NOT NULL,
            reason         text NOT NULL,
            state          text NOT NULL DEFAULT 'shown',
            email          text,
            note           text,
            page_url       text,
            deliveries     jsonb NOT NULL DEFAULT '[]'::jsonb,
            attempts       integer NOT NULL DEFAULT 0,
            created_at     timestamptz NOT NULL DEFAULT now(),
            submitted_at   timestamptz,
            CONSTRAINT ck_handoffs_state CHECK (state IN ('shown', 'sending', 'sent', 'failed')),
            CONSTRAINT ck_handoffs_reason
                CHECK (reason IN ('not_covered', 'feedback', 'asked_for_person'))
        )
        """
    )
    op.execute("CREATE INDEX ix_handoffs_scope_time ON handoffs (assistant, tenant_id, created_at)")
    op.execute("CREATE INDEX ix_handoffs_thread ON handoffs (thread_id)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS handoffs")
