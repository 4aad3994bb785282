"""The `docsdesk` console script: migrate, and failing fast on an unreachable database."""

from __future__ import annotations

import os
import subprocess
import sys

from docsdesk.database import head_revision
from tests.support import REPO


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "docsdesk", *args], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, **env}, timeout=120,
    )


def test_migrate_reports_head(database, tmp_path):
    result = run_cli("migrate", DATABASE_URL=database.url, DOCSDESK_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"revision {head_revision()}" in result.stdout


def test_unreachable_database_fails_fast_with_one_line(tmp_path):
    result = run_cli(
        "serve", "--port", "1",
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none", DOCSDESK_DATA_DIR=str(tmp_path),
        DOCSDESK_DB_CONNECT_TIMEOUT_SECONDS="3",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("docsdesk: error:")]
    assert len(errors) == 1 and "cannot reach the database at postgresql+asyncpg://nobody@127.0.0.1:9/none" in errors[0]


def test_bad_database_url_is_a_clear_error(tmp_path):
    result = run_cli("migrate", DATABASE_URL="mysql://x/y", DOCSDESK_DATA_DIR=str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "DATABASE_URL must start with postgresql://" in result.stderr
