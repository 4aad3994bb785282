"""upload blobs: the .tar.gz uploaded to POST /admin/api/collections/{name}/upload, kept until
its job ends

`docs_uploads` holds, per upload job, where the archive goes (collection, base URL, URL style)
and its size; `docs_upload_parts` the archive itself in parts of 1 MB, so neither the server
writing it nor the worker reading it holds more than a part in memory. Both are written in the
transaction that enqueues the job, so any worker that reaches the database can run it; they go
when the job ends (succeeded, failed or cancelled) and with its `docs_jobs` row. The parts are
gzip already: stored without PostgreSQL's own compression (STORAGE EXTERNAL).

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE docs_uploads (
            job_id      bigint PRIMARY KEY REFERENCES docs_jobs (id) ON DELETE CASCADE,
            collection  text NOT NULL,
            base_url    text NOT NULL,
            url_style   text NOT NULL,
            bytes       bigint NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE docs_upload_parts (
            job_id  bigint NOT NULL REFERENCES docs_uploads (job_id) ON DELETE CASCADE,
            part    integer NOT NULL,
            data    bytea NOT NULL,
            PRIMARY KEY (job_id, part)
        )
        """
    )
    op.execute("ALTER TABLE docs_upload_parts ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS docs_upload_parts")
    op.execute("DROP TABLE IF EXISTS docs_uploads")
