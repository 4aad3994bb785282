"""`/llms.txt` and `/llms-full.txt` from the index of a running `docsdesk serve` (the default
assistant public): their content, the cache (ETag, 304) and its invalidation by an ingest; and
anonymous MCP access to a public assistant."""

from __future__ import annotations

import json
import shutil
import sys

import httpx
import pytest

from tests.docsdesk.mcp.support import create_key, mcp_client, run_cli, structured
from tests.support import FIXTURE_DOCS, ServeProcess, new_id, write_pages


@pytest.fixture(scope="module")
async def public(database, tmp_path_factory):
    docs = tmp_path_factory.mktemp("llms-docs") / "docs"
    shutil.copytree(FIXTURE_DOCS, docs)
    env = {
        "DATABASE_URL": database.url,
        "DOCSDESK_DATA_DIR": str(tmp_path_factory.mktemp("llms-data")),
        "DOCSDESK_COLLECTION": new_id("llms"),
        "DOCSDESK_MCP_PUBLIC": "1",
        "DOCSDESK_MCP_ASSISTANTS": json.dumps({"private": [new_id("llms-private")]}),
        "DOCSDESK_SECRET_KEY": "mcp-test-secret-0123456789abcdef0123456789",
    }
    done = run_cli("ingest", str(docs), "--base-url", "https://lantern.test/", env=env)
    assert done.returncode == 0, done.stderr
    async with ServeProcess([sys.executable, "-m", "docsdesk"], env) as server:
        yield server, env, docs


async def test_llms_txt_lists_the_pages_by_section_and_follows_ingests(public):
    server, env, docs = public
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        first = await http.get("/llms.txt")
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain")
        body = first.text
        lines = body.splitlines()
        assert lines[0] == "# Lantern documentation"
        assert lines[2] == "> Lantern is a small job queue for Python services."
        assert "## Concepts" in lines and "## Guides" in lines
        assert (
            "- [Retries and backoff](https://lantern.test/concepts/retries/): A job that raises an exception is retried."
            in lines
        )
        # grouped: each section's pages follow its heading
        guides = lines.index("## Guides")
        assert lines[guides + 2].startswith("- [") and "https://lantern.test/guides/" in lines[guides + 2]
        assert (await http.get("/a/default/llms.txt")).text == body

        full = await http.get("/llms-full.txt")
        assert full.status_code == 200 and full.text.startswith("# Lantern documentation\n")
        assert "Source: https://lantern.test/concepts/retries/" in full.text
        assert "five attempts with exponential" in full.text and "pip install lantern-queue" in full.text

        # Cached: the same version answers 304 to its ETag.
        etag = first.headers["etag"]
        assert (await http.get("/llms.txt", headers={"If-None-Match": etag})).status_code == 304

        # An ingest changes the collection: the next request has the new page.
        write_pages(
            docs, {"guides/webhooks.md": "# Webhooks\n\nLantern calls your webhook when a job ends.\n"}
        )
        done = run_cli("ingest", str(docs), "--base-url", "https://lantern.test/", env=env)
        assert done.returncode == 0, done.stderr
        after = await http.get("/llms.txt", headers={"If-None-Match": etag})
        assert after.status_code == 200 and after.headers["etag"] != etag
        assert (
            "- [Webhooks](https://lantern.test/guides/webhooks/): Lantern calls your webhook when a job ends."
            in after.text
        )
        assert "Lantern calls your webhook" in (await http.get("/llms-full.txt")).text

        # A page removed from the docs leaves the file with the next ingest.
        (docs / "guides" / "webhooks.md").unlink()
        assert run_cli("ingest", str(docs), "--base-url", "https://lantern.test/", env=env).returncode == 0
        assert "Webhooks" not in (await http.get("/llms.txt")).text

        assert (await http.get("/a/nobody/llms.txt")).status_code == 404
        assert (await http.get("/a/private/llms.txt")).status_code == 401  # not public: a key is needed
        _, key = create_key(env, "--assistant", "private")
        private = await http.get("/a/private/llms.txt", headers={"Authorization": f"Bearer {key}"})
        assert private.status_code == 200 and private.text.startswith("# private documentation")


async def test_a_public_assistant_answers_without_a_key(public):
    server, _, _ = public
    async with mcp_client(f"{server.url}/mcp") as client:
        found = structured(await client.call_tool("search_docs", {"query": "worker concurrency"}))
        assert found["results"][0]["page_url"] == "https://lantern.test/concepts/workers/"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        assert (await http.post("/a/private/mcp", json={})).status_code == 401
