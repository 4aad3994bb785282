"""api_keys: operator-created bearer keys for /mcp and llms.txt, one assistant each

Only the SHA-256 of a key is stored (the key itself is shown once, by `docsdesk keys create`).
`id` is the key's public name (for `docsdesk keys list|revoke`), `prefix` its first characters
(to recognise it). A key is valid while `revoked_at` is NULL and `expires_at` is NULL or in
the future: every request reads this row, so a revocation holds at once on every instance.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE api_keys (
            id           text PRIMARY KEY,
            token_hash   text NOT NULL UNIQUE,
            prefix       text NOT NULL,
            assistant    text NOT NULL,
            label        text NOT NULL DEFAULT '',
            created_at   timestamptz NOT NULL DEFAULT now(),
            expires_at   timestamptz,
            revoked_at   timestamptz,
            last_used_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX ix_api_keys_assistant ON api_keys (assistant, created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS api_keys")
