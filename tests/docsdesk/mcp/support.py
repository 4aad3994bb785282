"""Helpers for the MCP tests: the SDK's own client over HTTP, the `docsdesk` command, keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import asynccontextmanager

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support import REPO


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "docsdesk", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def create_key(env: dict[str, str], *args: str) -> tuple[str, str]:
    """(key id, key) from `docsdesk keys create ...`: the key is the output's last line."""
    result = run_cli("keys", "create", *args, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    key_id = lines[0].split("created key ", 1)[1].split()[0]
    return key_id, lines[-1]


@asynccontextmanager
async def mcp_client(url: str, key: str | None = None, **options):
    """The SDK's client over Streamable HTTP, with `key` as the bearer token."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), **options) as client:
            yield client


def structured(result) -> dict:
    """A tool result's structured content (the SDK also sends it as JSON text)."""
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def error_text(result) -> str:
    assert result.is_error, result
    return " ".join(getattr(part, "text", "") for part in result.content)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
