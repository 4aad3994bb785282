"""`docsdesk mcp`: the same tools over stdio, driven by the MCP SDK's stdio client, reading the
configured database; its searches are recorded (channel `mcp`)."""

from __future__ import annotations

import asyncio
import os
import sys

from mcp import Client
from mcp.client.stdio import StdioServerParameters
from sqlalchemy import text

from tests.docsdesk.mcp.support import error_text, run_cli, structured
from tests.support import FIXTURE_DOCS, REPO, new_id


async def test_stdio_server_with_the_sdk_stdio_client(database, engine, tmp_path):
    collection = new_id("mcp-stdio")
    env = {
        "DATABASE_URL": database.url,
        "DOCSDESK_DATA_DIR": str(tmp_path),
        "DOCSDESK_COLLECTION": collection,
        "DOCSDESK_SECRET_KEY": "mcp-test-secret-0123456789abcdef0123456789",
    }
    done = run_cli("ingest", str(FIXTURE_DOCS), "--base-url", "https://lantern.test/", env=env)
    assert done.returncode == 0, done.stderr
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "docsdesk", "mcp"], env={**os.environ, **env}, cwd=str(REPO)
    )
    async with Client(params) as client:
        assert client.server_info.name == "docsdesk"
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert names == {"search_docs", "fetch_page", "list_collections"}
        found = structured(
            await client.call_tool("search_docs", {"query": "how many annotations can a report keep"})
        )
        best = found["results"][0]
        assert best["url"] == "https://lantern.test/guides/add-annotations/#annotation-limits"
        page = structured(await client.call_tool("fetch_page", {"url": best["page_url"]}))
        assert (
            page["title"] == "Show sources under an answer" and "at most 50 annotations" in page["markdown"]
        )
        listed = structured(await client.call_tool("list_collections", {}))
        assert [c["name"] for c in listed["collections"]] == [collection]
        refused = await client.call_tool("search_docs", {"query": "x", "collection": "someone-elses"})
        assert "no collection" in error_text(refused)
    for _ in range(50):  # written by the process's recorder when it stops, at the latest
        async with engine.connect() as conn:
            recorded = (
                (
                    await conn.execute(
                        text("SELECT question FROM turns WHERE collection = :c AND channel = 'mcp'"),
                        {"c": collection},
                    )
                )
                .scalars()
                .all()
            )
        if recorded:
            break
        await asyncio.sleep(0.2)
    assert recorded == ["how many annotations can a report keep"]


def test_stdio_refuses_an_unknown_assistant(database, tmp_path):
    result = run_cli(
        "mcp", "--assistant", "nobody", env={"DATABASE_URL": database.url, "DOCSDESK_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 1 and "no assistant named 'nobody'" in result.stderr
    assert result.stdout == ""  # stdout is the protocol's: nothing else is ever written there
