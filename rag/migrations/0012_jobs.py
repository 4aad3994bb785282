"""jobs: the job queue (pgqueuer's tables), docsdesk's record of each job, schedules of sources

pgqueuer's own tables (`pgqueuer`, `pgqueuer_log`, `pgqueuer_statistics`, `pgqueuer_schedules`
and its notify trigger) are created with the DDL of the installed pgqueuer. `docs_jobs` is what
docsdesk tells about a job (GET /admin/api/jobs/{id}): its kind and collection, state, attempts,
progress and result; its id is the queue's job id. A source gains its schedule (`every_seconds`,
`next_run_at`) and the number of syncs in a row that failed (`failing`).

Revision ID: 0012
Revises: 0011
"""

from alembic import op
from sqlalchemy.util import await_only

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

    # Several statements and function bodies: asyncpg's simple-query protocol runs them at once.
    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    await_only(raw.execute(QueryBuilderEnvironment().build_install_query()))
    op.execute(
        """
        CREATE TABLE docs_jobs (
            id           bigint PRIMARY KEY,
            kind         text NOT NULL,
            collection   text NOT NULL,
            sources      jsonb NOT NULL DEFAULT '[]'::jsonb,
            dedupe_key   text NOT NULL,
            state        text NOT NULL DEFAULT 'queued',
            attempts     integer NOT NULL DEFAULT 0,
            progress     jsonb NOT NULL DEFAULT '{}'::jsonb,
            result       jsonb,
            error        text,
            created_at   timestamptz NOT NULL DEFAULT now(),
            started_at   timestamptz,
            finished_at  timestamptz
        )
        """
    )
    op.execute("CREATE INDEX docs_jobs_open ON docs_jobs (dedupe_key) WHERE state IN ('queued', 'running')")
    op.execute(
        "ALTER TABLE docs_sources ADD COLUMN every_seconds integer,"
        " ADD COLUMN next_run_at timestamptz, ADD COLUMN failing integer NOT NULL DEFAULT 0"
    )


def downgrade() -> None:
    from pgqueuer.adapters.persistence.qb import QueryBuilderEnvironment

    op.execute(
        "ALTER TABLE docs_sources DROP COLUMN every_seconds, DROP COLUMN next_run_at, DROP COLUMN failing"
    )
    op.execute("DROP TABLE IF EXISTS docs_jobs")
    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    await_only(raw.execute(QueryBuilderEnvironment().build_uninstall_query()))
