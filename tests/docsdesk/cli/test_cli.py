"""The `docsdesk` command as a real process: help and version, migrate, collections, search's
default collection, and one clear line for an unreachable database or a busy port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from docsdesk.core.database import head_revision
from rag.embeddings import DEFAULT_EMBEDDINGS
from tests.support import FIXTURE_DOCS, REPO, new_id


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "docsdesk", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_migrate_reports_head(database, tmp_path):
    result = run_cli("migrate", DATABASE_URL=database.url, DOCSDESK_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert f"revision {head_revision()}" in result.stdout


def test_unreachable_database_fails_fast_with_one_line(tmp_path):
    result = run_cli(
        "serve",
        "--port",
        "1",
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
        DOCSDESK_DATA_DIR=str(tmp_path),
        DOCSDESK_DB_CONNECT_TIMEOUT_SECONDS="3",
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("docsdesk: error:")]
    assert (
        len(errors) == 1
        and "cannot reach the database at postgresql+asyncpg://nobody@127.0.0.1:9/none" in errors[0]
    )


def test_bad_database_url_is_a_clear_error(tmp_path):
    result = run_cli("migrate", DATABASE_URL="mysql://x/y", DOCSDESK_DATA_DIR=str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "DATABASE_URL is not valid: expected postgresql://" in result.stderr


def test_version_and_help_show_defaults():
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("docsdesk ")
    help_text = run_cli("serve", "--help").stdout
    assert "(default: 8000)" in help_text and "(default: 127.0.0.1)" in help_text
    assert "(default: mkdocs)" in help_text
    assert "Upgrade the database schema" in run_cli("migrate", "--help").stdout


def test_help_does_not_import_the_sdks():
    probe = (
        "import sys\nfrom docsdesk.cli import build_parser\nbuild_parser()\n"
        "heavy = [m for m in ('agents', 'chatkit', 'openai', 'sqlalchemy', 'rich', 'app') if m in sys.modules]\n"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_serve_on_a_busy_port_is_one_clear_error(database, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(
            "serve", "--port", str(port), DATABASE_URL=database.url, DOCSDESK_DATA_DIR=str(tmp_path)
        )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"docsdesk: error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "ready at" not in result.stderr


def test_collections_lists_and_removes(database, tmp_path):
    collection = new_id("cli")
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    ingested = run_cli(
        "ingest", str(FIXTURE_DOCS), "--base-url", "https://lantern.test/", "--collection", collection, **env
    )
    assert ingested.returncode == 0, ingested.stderr
    assert f"into collection '{collection}': 5 files added" in ingested.stdout
    listed = run_cli("collections", **env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if collection in line)
    assert " 5 " in row and DEFAULT_EMBEDDINGS in row  # hybrid by default
    removed = run_cli("collections", "remove", collection, **env)
    assert removed.returncode == 0 and f"removed collection '{collection}'" in removed.stdout
    assert collection not in run_cli("collections", **env).stdout
    again = run_cli("collections", "remove", collection, **env)
    assert again.returncode == 1 and "no collection named" in again.stderr and "Traceback" not in again.stderr


def test_a_collection_without_vectors_is_re_embedded_and_the_console_says_so(database, tmp_path):
    collection = new_id("cli")
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    ingest = ("ingest", str(FIXTURE_DOCS), "--base-url", "https://lantern.test/", "--collection", collection)
    older = run_cli(*ingest, **env, DOCSDESK_EMBEDDINGS="none")  # an older install's collection
    assert older.returncode == 0, older.stderr
    listed = run_cli("collections", **env)
    assert listed.returncode == 0, listed.stderr
    assert (
        f"collection '{collection}' has no vectors: search is full-text only until the next"
        f" `docsdesk ingest` embeds it with {DEFAULT_EMBEDDINGS}"
    ) in " ".join(listed.stdout.split())
    again = run_cli(*ingest, **env)
    assert again.returncode == 0, again.stderr
    assert f"5 unchanged, embedder none -> {DEFAULT_EMBEDDINGS}: 5 re-embedded" in again.stdout
    assert f"collection '{collection}'" not in run_cli("collections", **env).stdout  # no note left


def test_search_defaults_to_the_collection_the_server_answers_from(database, tmp_path):
    collection = new_id("served")
    env = {
        "DATABASE_URL": database.url,
        "DOCSDESK_DATA_DIR": str(tmp_path),
        "DOCSDESK_COLLECTION": collection,
    }
    assert run_cli("ingest", str(FIXTURE_DOCS), "--base-url", "https://lantern.test/", **env).returncode == 0
    found = run_cli("search", "retry policy backoff", "--json", **env)
    assert found.returncode == 0, found.stderr
    urls = [hit["url"] for hit in json.loads(found.stdout)]
    assert urls and all(url.startswith("https://lantern.test/") for url in urls)
    assert urls[0].startswith("https://lantern.test/concepts/retries/")


def test_the_default_public_url_is_the_bound_address_reachable_here():
    from docsdesk.cli import local_url_for

    assert local_url_for("0.0.0.0", 8001) == "http://127.0.0.1:8001"
    assert local_url_for("::", 8001) == "http://[::1]:8001"
    assert local_url_for("docs.internal", 80) == "http://docs.internal:80"


def test_option_help_states_each_default_once():
    import argparse

    from docsdesk.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(commands.choices) >= 8
    for name, command in commands.choices.items():
        text = " ".join(command.format_help().split())
        assert "(default: None)" not in text and "(default: False)" not in text, name
        formatter = command._get_formatter()
        for action in command._actions:
            shown = formatter._expand_help(action) if action.help else ""
            assert shown.count("default") <= 1, (name, shown)
    serve = " ".join(commands.choices["serve"].format_help().split())
    assert "(default: 8000)" in serve and "(default: mkdocs)" in serve
