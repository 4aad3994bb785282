"""`search_docs` over MCP (Streamable HTTP, the SDK's own client, against a real `docsdesk serve`)
against the same search in-process (`DocsSearch.search`, as `docsdesk search` runs it), on the
shared corpus, at concurrency 1 and 16, in one run.

The corpus (/work/shared/corpus: chatkit-python and openai-agents-python) is ingested into one
collection in a fresh data dir (embedded PostgreSQL, full-text search: no embedder), served by
`docsdesk serve` (one worker) with an API key and a rate limit high enough never to refuse; the
bench process attaches to the same database for the in-process runs. Queries: the dev question
sets of both corpora, cycled. Each MCP worker holds one SDK client session (initialised once)
and calls `search_docs` in a loop; each in-process worker calls `search` in a loop. Prints
calls/s, p50 and p95 per mode and concurrency, and the ratio HTTP / in-process. A third mode
(`jsonrpc`) posts the same `tools/call` as plain JSON-RPC over httpx: the server's share without
the SDK client's own cost (the client runs on the same machine).

    python bench/mcp_search.py [--calls 300] [--corpus /work/shared/corpus]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# This file is named mcp.py: its folder must not shadow the `mcp` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

CORPORA = {
    "chatkit-python": "https://openai.github.io/chatkit-python/",
    "openai-agents-python": "https://openai.github.io/openai-agents-python/",
}
COLLECTION = "bench-mcp"
CONCURRENCY = (1, 16)


def questions() -> list[str]:
    found = []
    for name in ("dev-agents.tsv", "dev-chatkit.tsv"):
        with open(REPO / "bench" / "questions" / name, newline="") as handle:
            found += [row["question"] for row in csv.DictReader(handle, delimiter="\t")]
    return found


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "docsdesk", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"docsdesk {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, deadline: float = 180.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise SystemExit(f"docsdesk serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("docsdesk serve did not become ready")


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "calls_per_s": len(ordered) / elapsed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p95_ms": 1000 * ordered[max(0, round(0.95 * len(ordered)) - 1)],
    }


async def run_workers(concurrency: int, calls: int, make_worker) -> dict[str, float]:
    """`concurrency` workers sharing `calls` calls; each worker is `make_worker(take)`, an async
    function calling `await take()` for the next query (None when done) and timing each call."""
    queries = questions()
    counter = iter(range(calls))
    latencies: list[float] = []

    async def take():
        index = next(counter, None)
        return None if index is None else queries[index % len(queries)]

    started = time.perf_counter()
    await asyncio.gather(*(make_worker(take, latencies) for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - started)


async def over_mcp(url: str, key: str, concurrency: int, calls: int) -> dict[str, float]:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def worker(take, latencies: list[float]) -> None:
        limits = httpx2.Limits(max_connections=2)
        async with httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {key}"}, timeout=60, limits=limits
        ) as http:
            async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
                while (query := await take()) is not None:
                    began = time.perf_counter()
                    result = await client.call_tool("search_docs", {"query": query, "k": 5})
                    latencies.append(time.perf_counter() - began)
                    if result.is_error:
                        raise SystemExit(f"search_docs failed: {result.content}")

    return await run_workers(concurrency, calls, worker)


async def over_jsonrpc(url: str, key: str, concurrency: int, calls: int) -> dict[str, float]:
    """The same `tools/call` as plain JSON-RPC POSTs (httpx, no SDK client): the server's share."""
    import httpx

    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }

    async def worker(take, latencies: list[float]) -> None:
        async with httpx.AsyncClient(headers=headers, timeout=60) as http:
            while (query := await take()) is not None:
                began = time.perf_counter()
                response = await http.post(
                    f"{url}/mcp",
                    json={
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "tools/call",
                        "params": {"name": "search_docs", "arguments": {"query": query, "k": 5}},
                    },
                )
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200 or "error" in response.json():
                    raise SystemExit(f"search_docs failed: {response.text[:300]}")

    return await run_workers(concurrency, calls, worker)


async def in_process(search, concurrency: int, calls: int) -> dict[str, float]:
    async def worker(take, latencies: list[float]) -> None:
        while (query := await take()) is not None:
            began = time.perf_counter()
            await search.search(query, k=5, collection=COLLECTION)
            latencies.append(time.perf_counter() - began)

    return await run_workers(concurrency, calls, worker)


async def measure(url: str, key: str, env: dict[str, str], calls: int) -> list[tuple[str, int, dict]]:
    os.environ.update({k: v for k, v in env.items() if k.startswith(("DOCSDESK_", "DATABASE_URL"))})
    from docsdesk.cli.search import serving_search

    rows = []
    async with serving_search(COLLECTION) as (search, _):
        await in_process(search, 4, 40)  # warm both paths
        await over_mcp(url, key, 4, 40)
        for concurrency in CONCURRENCY:
            rows.append(("mcp-http", concurrency, await over_mcp(url, key, concurrency, calls)))
            rows.append(("jsonrpc", concurrency, await over_jsonrpc(url, key, concurrency, calls)))
            rows.append(("in-process", concurrency, await in_process(search, concurrency, calls)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300, help="search_docs calls per mode and concurrency")
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="docsdesk-bench-mcp-"))
    env = {
        **os.environ,
        "DOCSDESK_DATA_DIR": str(data),
        "DOCSDESK_COLLECTION": COLLECTION,
        "DOCSDESK_EMBEDDINGS": "none",
        "DOCSDESK_MODEL": "offline",
        "DOCSDESK_RATE_LIMIT_MCP": "10000000/minute",
        "DOCSDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    for folder, base in CORPORA.items():
        cli(env, "ingest", str(args.corpus / folder), "--base-url", base)
    key = cli(env, "keys", "create", "--assistant", "default", "--label", "bench").strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "docsdesk", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(url, server)
        rows = asyncio.run(measure(url, key, env, args.calls))
    finally:
        server.terminate()
        server.wait(60)
    print(f"search_docs, {args.calls} calls per row, corpus {args.corpus} (full-text search)")
    print(f"{'mode':<11} {'conc':>4} {'calls/s':>9} {'p50 ms':>8} {'p95 ms':>8}")
    for mode, concurrency, figures in rows:
        print(
            f"{mode:<11} {concurrency:>4} {figures['calls_per_s']:>9.1f} "
            f"{figures['p50_ms']:>8.2f} {figures['p95_ms']:>8.2f}"
        )
    by = {(mode, c): f for mode, c, f in rows}
    for concurrency in CONCURRENCY:
        http, local = by[("mcp-http", concurrency)], by[("in-process", concurrency)]
        print(
            f"concurrency {concurrency}: MCP over HTTP gives {http['calls_per_s'] / local['calls_per_s']:.2f}x "
            f"the in-process calls/s; p95 {http['p95_ms'] / local['p95_ms']:.2f}x"
        )


if __name__ == "__main__":
    main()
