"""One resolution everywhere: the commands read docsdesk.toml from the working directory and
use the collections of the assistant the server would, without DOCSDESK_COLLECTION."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support import FIXTURE_DOCS, REPO, new_id


def run_in(cwd, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("DOCSDESK_COLLECTION", "DOCSDESK_CONFIG")}
    return subprocess.run(
        [sys.executable, "-m", "docsdesk", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**environment, "PYTHONPATH": str(REPO), "COLUMNS": "250", **env},
        timeout=120,
    )


def test_commands_use_the_configured_assistants(database, tmp_path):
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path / "data")}
    guides, api = new_id("guides"), new_id("api")
    (tmp_path / "docsdesk.toml").write_text(
        f'[assistants.docs]\ncollections = ["{guides}", "{api}"]\n\n[assistants.api]\ncollections = ["{api}"]\n'
    )
    api_docs = tmp_path / "api-docs"
    api_docs.mkdir()
    (api_docs / "retries.md").write_text(
        "# Retry policy over HTTP\n\nThe HTTP API retries with exponential backoff: 1 s, 2 s, 4 s.\n"
    )
    first = run_in(tmp_path, "ingest", str(FIXTURE_DOCS), "--base-url", "https://lantern.test/", **env)
    assert first.returncode == 0, first.stderr
    assert f"into collection '{guides}'" in first.stdout  # the default assistant's first collection
    second = run_in(
        tmp_path, "ingest", str(api_docs), "--base-url", "https://api.test/", "--assistant", "api", **env
    )
    assert second.returncode == 0 and f"into collection '{api}'" in second.stdout, second.stderr

    both = run_in(tmp_path, "search", "retry policy backoff", "--json", **env)
    assert both.returncode == 0, both.stderr
    hits = json.loads(both.stdout)
    assert {hit["collection"] for hit in hits} == {guides, api}  # searched together, each says which
    only_api = run_in(tmp_path, "search", "retry policy backoff", "--json", "--assistant", "api", **env)
    assert {hit["collection"] for hit in json.loads(only_api.stdout)} == {api}
    table = run_in(tmp_path, "search", "retry policy backoff", **env)
    assert api in table.stdout and guides in table.stdout  # the plain output names them too

    questions = tmp_path / "questions.tsv"
    questions.write_text("How does the HTTP API retry with backoff?\thttps://api.test/retries/\n")
    evaluated = run_in(tmp_path, "eval", str(questions), "--assistant", "api", "--json", **env)
    assert evaluated.returncode == 0, evaluated.stderr
    document = json.loads(evaluated.stdout)
    assert document["assistant"] == "api" and document["collection"] == api
    report = run_in(tmp_path, "report", "--json", "--assistant", "api", **env)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["scope"]["assistant"] == "api"

    listed = run_in(tmp_path, "collections", **env)
    assert listed.returncode == 0, listed.stderr
    guides_row = next(line for line in listed.stdout.splitlines() if guides in line)
    api_row = next(line for line in listed.stdout.splitlines() if api in line)
    assert "docs" in guides_row and "api" not in guides_row.replace(guides, "")
    assert "docs, api" in api_row


def test_unknown_or_empty_collections_and_assistants_are_one_line(database, tmp_path):
    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path / "data")}
    empty = new_id("empty")
    (tmp_path / "docsdesk.toml").write_text(f'[assistants.docs]\ncollections = ["{empty}"]\n')
    for args in (["search", "anything"], ["report"], ["export", "--format", "jsonl"]):
        result = run_in(tmp_path, *args, **env)
        assert result.returncode == 1, (args, result.stdout)
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith(
            f"docsdesk: error: no documents in collection '{empty}' (collections with documents: "
        )
    result = run_in(tmp_path, "search", "anything", "--collection", "nosuch", **env)
    assert "no documents in collection 'nosuch'" in result.stderr and result.returncode == 1
    result = run_in(tmp_path, "search", "anything", "--assistant", "nosuch", **env)
    assert result.stderr.strip() == "docsdesk: error: no assistant named 'nosuch' (assistants: docs)"


def test_a_bad_config_line_is_one_clear_error(tmp_path):
    (tmp_path / "docsdesk.toml").write_text(
        '[assistants.docs]\ncollections = ["guides"]\nstarter_prompts = "How do I start?"\n'
    )
    result = run_in(tmp_path, "config", "check")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    path = (tmp_path / "docsdesk.toml").resolve()
    assert line.startswith(f"docsdesk: error: {path}:3: assistants.docs.starter_prompts: "), line
    fine = tmp_path / "fine.toml"
    fine.write_text('[assistants.docs]\ncollections = ["guides"]\ngreeting = "Hi"\n')
    checked = run_in(tmp_path, "--config", str(fine), "config", "check", "--json")
    assert checked.returncode == 0, checked.stderr
    (assistant,) = json.loads(checked.stdout)["assistants"]
    assert (
        assistant["name"] == "docs" and assistant["endpoint"] == "/chatkit" and assistant["greeting"] == "Hi"
    )


def test_serve_reads_the_config_and_refuses_empty_collections(database, tmp_path):
    import socket
    import time

    import httpx

    env = {"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path / "data")}
    guides, empty = new_id("guides"), new_id("empty")
    config = tmp_path / "docsdesk.toml"
    config.write_text(
        f'[assistants.docs]\ncollections = ["{guides}"]\n\n'
        f'[assistants.api]\ncollections = ["{empty}"]\ngreeting = "Ask about the API"\n'
    )
    run_in(tmp_path, "ingest", str(FIXTURE_DOCS), "--base-url", "https://lantern.test/", **env)
    refused = run_in(tmp_path, "serve", "--port", "0", **env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"docsdesk: error: {config.resolve()}: no documents in collection '{empty}'" in refused.stderr

    run_in(
        tmp_path, "ingest", str(FIXTURE_DOCS), "--base-url", "https://api.test/", "--assistant", "api", **env
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {k: v for k, v in os.environ.items() if k not in ("DOCSDESK_COLLECTION", "DOCSDESK_CONFIG")}
    server = subprocess.Popen(
        [sys.executable, "-m", "docsdesk", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(REPO), **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                screen = httpx.get(f"http://127.0.0.1:{port}/a/api/start-screen", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert screen.status_code == 200 and screen.json()["greeting"] == "Ask about the API"
        session = httpx.post(f"http://127.0.0.1:{port}/session").json()
        turn = httpx.post(
            f"http://127.0.0.1:{port}/a/api/chatkit",
            headers={"Authorization": f"Bearer {session['token']}"},
            json={
                "type": "threads.create",
                "params": {
                    "input": {
                        "content": [{"type": "input_text", "text": "How are retries configured?"}],
                        "attachments": [],
                        "inference_options": {},
                    }
                },
            },
            timeout=60,
        )
        assert (
            turn.status_code == 200
            and "https://api.test/" in turn.text
            and "https://lantern.test/" not in turn.text
        )
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
    assert f"assistant 'api': collections {empty}" in stderr
