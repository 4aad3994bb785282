"""Hostile PDFs benchmark (issue 23, item 1): an innocent reader's turn latency while
7 readers' PDF bombs are being extracted, against the same turns on an idle server.

The real app runs in its own process (`bench.turns.start_server`, offline model, 1 worker).
Phase "idle": the innocent reader asks N short questions, one at a time. Phase "hostile":
7 other readers each send a turn with a PDF bomb (built here: 200 pages sharing one content
stream, ~40 KB; unbounded pypdf spends minutes of CPU on it) while the innocent reader asks
the same N questions. Printed: p50/p95 of the innocent turns in both phases and their ratio
(goal <= 2x), the server's peak RSS growth (VmHWM, reset before the phase) and the peak of
the server plus its extraction children (sampled every 50 ms) over the idle RSS (goal
<= +200 MB), and how long the bombs took to be refused.

    python bench/hostile_pdfs.py [--turns 40] [--bombs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.attachments import MIB, Client, Server, reset_peak, status_kib  # noqa: E402
from bench.turns import UNLIMITED, BenchError  # noqa: E402
from docsdesk.core.database import open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from tests.support.files import pdf_bomb  # noqa: E402


def tree_rss_kib(pid: int) -> int:
    """RSS of `pid` and its direct children (the extraction processes)."""
    total = status_kib(pid, "VmRSS")
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += status_kib(int(child), "VmRSS")
            except (OSError, Exception):  # noqa: BLE001 - the child may just have exited
                pass
    return total


async def turn(client: Client, question: str, attachments: list[str]) -> float:
    body = {
        "type": "threads.create",
        "params": {
            "input": {
                "content": [{"type": "input_text", "text": question}],
                "attachments": attachments,
                "inference_options": {},
            }
        },
    }
    started = time.perf_counter()
    async with client.http.stream("POST", "/chatkit", json=body, headers=client.headers) as response:
        data = b"".join([chunk async for chunk in response.aiter_raw()])
    if response.status_code != 200 or b'"type":"thread.item.done"' not in data.replace(b" ", b""):
        raise BenchError(f"turn: {response.status_code} {data[:300]!r}")
    return time.perf_counter() - started


async def innocent(client: Client, turns: int, until: list[asyncio.Task] = ()) -> list[float]:
    """At least `turns` turns, one at a time, and more until every task of `until` is done."""
    times: list[float] = []
    while len(times) < turns or not all(task.done() for task in until):
        times.append(await turn(client, f"How do I configure retries? ({len(times)})", []))
    return times


async def upload_pdf(client: Client, data: bytes) -> str:
    response = await client.http.post(
        "/attachments", files={"file": ("bomb.pdf", data, "application/pdf")}, headers=client.headers
    )
    return response.json()["id"]


async def sample_peak(pid: int, stop: asyncio.Event) -> int:
    peak = 0
    while not stop.is_set():
        peak = max(peak, tree_rss_kib(pid))
        await asyncio.sleep(0.05)
    return peak


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def run(data_dir: Path, database_url: str, turns: int, bombs: int) -> None:
    server = Server(data_dir, database_url, "postgres", 10 * MIB)
    server.env["DOCSDESK_RATE_LIMIT_TURNS"] = UNLIMITED
    await server.start()
    pid = server.process.pid
    reader = Client(server.url)
    attackers = [Client(server.url) for _ in range(bombs)]
    try:
        for client in (reader, *attackers):
            await client.login()
        await innocent(reader, 5)  # warm-up
        idle = await innocent(reader, turns)
        idle_rss = tree_rss_kib(pid)
        bomb = pdf_bomb()
        ids = [await upload_pdf(client, bomb) for client in attackers]
        reset_peak(pid)
        hwm_before = status_kib(pid, "VmHWM")
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_peak(pid, stop))
        started = time.perf_counter()
        hostile_turns = [
            asyncio.create_task(turn(client, "Summarise this", [attachment]))
            for client, attachment in zip(attackers, ids, strict=True)
        ]
        await asyncio.sleep(0.5)  # the bombs are being extracted
        busy = await innocent(reader, turns, hostile_turns)
        bomb_seconds = await asyncio.gather(*hostile_turns)
        stop.set()
        tree_peak = await sampler
        hwm = status_kib(pid, "VmHWM")
        print(
            f"bomb: {len(bomb) / 1024:.0f} KB, {bombs} at once; innocent turns: {len(idle)} idle, {len(busy)} with bombs"
        )
        print(
            f"innocent turn p50 idle {statistics.median(idle) * 1000:.0f} ms, with bombs {statistics.median(busy) * 1000:.0f} ms"
        )
        ratio = p95(busy) / p95(idle)
        print(
            f"innocent turn p95 idle {p95(idle) * 1000:.0f} ms, with bombs {p95(busy) * 1000:.0f} ms: {ratio:.2f}x (goal <= 2x)"
        )
        print(
            f"bomb turns answered after {min(bomb_seconds):.1f}-{max(bomb_seconds):.1f} s (phase {time.perf_counter() - started:.1f} s)"
        )
        print(f"server peak RSS growth: {(hwm - hwm_before) / 1024:.0f} MB (VmHWM {hwm / 1024:.0f} MB)")
        print(
            f"server + extraction children peak RSS: {tree_peak / 1024:.0f} MB, "
            f"+{(tree_peak - idle_rss) / 1024:.0f} MB over idle (goal <= +200 MB)"
        )
    finally:
        for client in (reader, *attackers):
            await client.aclose()
        await server.stop()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--bombs", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} core(s)")
    with tempfile.TemporaryDirectory(prefix="docsdesk-bench-pdfs-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(_env_file=None, data_dir=data_dir, database_url=os.environ.get("DATABASE_URL"))
        db = await open_database(settings)
        try:
            await run(data_dir, db.url, args.turns, args.bombs)
        finally:
            await db.close()


if __name__ == "__main__":
    asyncio.run(main())
