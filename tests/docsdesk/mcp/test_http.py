"""/mcp over Streamable HTTP against a running `docsdesk serve`, driven by the MCP SDK's own
client: the tools and their cited URLs, keys (missing, wrong, revoked, expired: 401), one
assistant's key kept out of another's collections, the per-key rate limit, and the searches in
the insights (channel `mcp`)."""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import pytest
from sqlalchemy import text

from tests.docsdesk.mcp.support import (
    INITIALIZE,
    MCP_HEADERS,
    create_key,
    error_text,
    mcp_client,
    run_cli,
    structured,
)
from tests.support import FIXTURE_DOCS, ServeProcess, new_id, write_pages

OTHER_PAGES = {
    "index.md": "# Heron telemetry\n\nHeron ships zebrafish telemetry to your warehouse.\n",
    "setup.md": "# Set up Heron\n\n## Install the zebrafish probe\n\nRun `heron probe install` on each host.\n",
}
RATE_LIMIT = 12


@pytest.fixture(scope="module")
async def deployment(database, tmp_path_factory):
    """A served default assistant (the Lantern docs) and a second assistant `other` (its own
    collection), neither public, with a low per-key MCP rate limit."""
    data = tmp_path_factory.mktemp("mcp-data")
    main, other = new_id("mcp-main"), new_id("mcp-other")
    other_docs = write_pages(tmp_path_factory.mktemp("other-docs"), OTHER_PAGES)
    env = {
        "DATABASE_URL": database.url,
        "DOCSDESK_DATA_DIR": str(data),
        "DOCSDESK_COLLECTION": main,
        "DOCSDESK_MCP_ASSISTANTS": json.dumps({"other": [other]}),
        "DOCSDESK_RATE_LIMIT_MCP": f"{RATE_LIMIT}/minute",
        "DOCSDESK_SECRET_KEY": "mcp-test-secret-0123456789abcdef0123456789",
    }
    for path, base, name in (
        (FIXTURE_DOCS, "https://lantern.test/", main),
        (other_docs, "https://heron.test/", other),
    ):
        done = run_cli("ingest", str(path), "--base-url", base, "--collection", name, env=env)
        assert done.returncode == 0, done.stderr
    async with ServeProcess([sys.executable, "-m", "docsdesk"], env) as server:
        yield server, env, main, other


async def test_tools_over_http_with_the_sdk_client(deployment, engine):
    server, env, main, _ = deployment
    _, key = create_key(env, "--assistant", "default", "--label", "ci agent")
    async with mcp_client(f"{server.url}/mcp", key) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == {"search_docs", "fetch_page", "list_collections"}
        assert "cite" in tools["search_docs"].description.lower()
        found = structured(await client.call_tool("search_docs", {"query": "retry policy backoff", "k": 3}))
        results = found["results"]
        assert 1 <= len(results) <= 3
        best = results[0]
        assert best["url"].startswith("https://lantern.test/concepts/retries/#")  # the section anchor
        assert best["page_url"] == "https://lantern.test/concepts/retries/"
        assert best["title"] and 0 < best["score"] <= 1 and best["collection"] == main
        assert "backoff" in best["text"].lower()
        page = structured(await client.call_tool("fetch_page", {"url": best["url"]}))
        assert page["url"] == best["page_url"] and page["markdown"].startswith("# ")
        assert best["text"] in page["markdown"]  # the page is its passages, whole and in order
        listed = structured(await client.call_tool("list_collections", {}))
        assert [c["name"] for c in listed["collections"]] == [main]
        missing = await client.call_tool("fetch_page", {"url": "https://lantern.test/nowhere/"})
        assert "no indexed page" in error_text(missing)
    # The searches are in the insights, as channel `mcp`, and in the report.
    for _ in range(50):
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT question, outcome, thread_id, cited_urls FROM turns WHERE collection = :c AND channel = 'mcp'"
                    ),
                    {"c": main},
                )
            ).all()
        if rows:
            break
        await asyncio.sleep(0.2)
    assert [(r.question, r.outcome, r.thread_id) for r in rows] == [
        ("retry policy backoff", "answered", None)
    ]
    assert rows[0].cited_urls[0] == best["url"]
    report = run_cli("report", "--channel", "mcp", "--json", env=env)
    assert report.returncode == 0, report.stderr
    parsed = json.loads(report.stdout)
    assert parsed["channels"] == {"mcp": {"turns": 1, "not_covered": 0}}
    assert parsed["top_questions"][0]["question"] == "retry policy backoff"


async def test_searches_that_find_nothing_are_coverage_gaps(deployment):
    server, env, _, _ = deployment
    _, key = create_key(env, "--assistant", "default")
    async with mcp_client(f"{server.url}/mcp", key) as client:
        found = structured(await client.call_tool("search_docs", {"query": "kubernetes helm chart"}))
    # Nearest passages may come back (vectors), but the words the docs lack are named.
    assert set(found["not_in_docs"]) >= {"kubernetes", "helm"}
    for _ in range(50):
        report = json.loads(run_cli("report", "--channel", "mcp", "--json", env=env).stdout)
        if report["coverage_gaps"]:
            break
        await asyncio.sleep(0.2)
    assert report["coverage_gaps"][0]["question"] == "kubernetes helm chart"
    assert {w["word"] for w in report["missing_words"]} >= {"kubernetes", "helm"}


async def _status(url: str, key: str | None, authorization: str | None = None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if key is not None or authorization is not None:
        headers["Authorization"] = authorization or f"Bearer {key}"
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(url, headers=headers, json=INITIALIZE)


async def test_missing_wrong_revoked_and_expired_keys_are_401(deployment, engine):
    server, env, _, _ = deployment
    key_id, key = create_key(env, "--assistant", "default", "--expires", "30d")
    assert (await _status(f"{server.url}/mcp", key)).status_code == 200
    for bad in (None, "ddk_" + "x" * 43, key[:-1], "not a key at all"):
        response = await _status(f"{server.url}/mcp", bad)
        assert response.status_code == 401, (bad, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["error"]["code"] in ("missing_key", "invalid_key")
    basic = await _status(f"{server.url}/mcp", None, "Basic eDp5")
    assert basic.status_code == 401 and basic.json()["error"]["code"] == "invalid_authorization"
    # The SDK's client fails to connect without a valid key.
    with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises, it must not connect
        async with mcp_client(f"{server.url}/mcp", "ddk_wrong"):
            pass

    # Revoked: refused on the very next request.
    async with mcp_client(f"{server.url}/mcp", key) as client:
        assert structured(await client.call_tool("list_collections", {}))
        revoked = run_cli("keys", "revoke", key_id, env=env)
        assert revoked.returncode == 0 and key_id in revoked.stdout
        refused = await _status(f"{server.url}/mcp", key)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "key_revoked"
        with pytest.raises(Exception):  # noqa: B017 - the open client's next call is refused too
            await client.call_tool("list_collections", {})

    # Expired: a key whose expiry passed (moved into the past rather than waited for).
    expiring_id, expiring = create_key(env, "--assistant", "default", "--expires", "1h")
    assert (await _status(f"{server.url}/mcp", expiring)).status_code == 200
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :id"),
            {"id": expiring_id},
        )
    expired = await _status(f"{server.url}/mcp", expiring)
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "key_expired"
    listed = run_cli("keys", "list", env={**env, "COLUMNS": "200"}).stdout
    assert key_id in listed and expiring_id in listed and "revoked" in listed and "expired" in listed
    assert key not in listed and expiring not in listed  # never the keys themselves


async def test_a_key_reads_only_its_assistants_collections(deployment):
    server, env, main, other = deployment
    _, default_key = create_key(env, "--assistant", "default")
    _, other_key = create_key(env, "--assistant", "other")
    async with mcp_client(f"{server.url}/mcp", default_key) as client:
        found = structured(await client.call_tool("search_docs", {"query": "zebrafish telemetry probe"}))
        assert all(r["collection"] == main for r in found["results"])
        assert not any("heron.test" in r["url"] for r in found["results"])
        refused = await client.call_tool("search_docs", {"query": "zebrafish", "collection": other})
        assert "no collection" in error_text(refused)
        hidden = await client.call_tool("fetch_page", {"url": "https://heron.test/setup/"})
        assert "no indexed page" in error_text(hidden)
    async with mcp_client(f"{server.url}/mcp", other_key) as client:
        found = structured(await client.call_tool("search_docs", {"query": "zebrafish probe"}))
        assert found["results"] and all(r["url"].startswith("https://heron.test/") for r in found["results"])
        listed = structured(await client.call_tool("list_collections", {}))
        assert listed == {"assistant": "other", "collections": [listed["collections"][0]]}
        assert listed["collections"][0]["name"] == other and listed["collections"][0]["pages"] == 2
    # The assistant's own address takes only its keys.
    async with mcp_client(f"{server.url}/a/other/mcp", other_key) as client:
        assert structured(await client.call_tool("search_docs", {"query": "zebrafish"}))["results"]
    wrong = await _status(f"{server.url}/a/other/mcp", default_key)
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_assistant"
    assert (await _status(f"{server.url}/a/nobody/mcp", other_key)).status_code == 404
    assert (await _status(f"{server.url}/a/other/mcp", None)).status_code == 401


async def test_rate_limit_per_key(deployment):
    server, env, _, _ = deployment
    _, key = create_key(env, "--assistant", "default")
    _, spare = create_key(env, "--assistant", "default")
    statuses = [(await _status(f"{server.url}/mcp", key)).status_code for _ in range(RATE_LIMIT + 2)]
    assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT and statuses[RATE_LIMIT:] == [429, 429]
    limited = await _status(f"{server.url}/mcp", key)
    assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert (await _status(f"{server.url}/mcp", spare)).status_code == 200  # per key, not global


def test_keys_create_refuses_bad_input(deployment):
    _, env, _, _ = deployment
    for args, message in (
        (("--assistant", "nobody"), "no assistant named 'nobody'"),
        (("--expires", "yesterday"), "--expires 'yesterday'"),
        (("--expires", "2001-01-01"), "is in the past"),
    ):
        result = run_cli("keys", "create", *args, env=env)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    missing = run_cli("keys", "revoke", "k_nothing", env=env)
    assert missing.returncode == 1 and "no key 'k_nothing'" in missing.stderr
