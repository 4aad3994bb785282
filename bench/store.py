"""Page latency of PostgresStore on small vs large threads/users; prints its figures.

    python bench/store.py [--iterations 500] [--warmup 50]

Uses DATABASE_URL when set (rows go under a fresh "bench-*" tenant, deleted at the end),
otherwise an embedded PostgreSQL in a temp dir. Seeds with multi-row INSERTs straight
into the tables (one thread with 10 items, one with 10,000; one user with 10 threads, one
with 10,000), ANALYZEs, then times the store's own calls end to end:

- load_thread_items(thread, None, 20, "desc") and a page after a cursor,
- load_threads(20, None, "desc") and a page after a cursor,

every case (small and large) run once per iteration in a rotating order, so a burst of
machine noise lands on all alike. Prints p50/p95 in ms per case, the large/small ratios and
the load average (the figures are only as quiet as the machine). Targets: ratio <= 1.2,
p95 <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from chatkit.types import AssistantMessageContent, AssistantMessageItem, ThreadMetadata
from sqlalchemy import delete, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chatkit_store import PostgresStore
from chatkit_store.schema import items, threads
from docsdesk.core.context import RequestContext
from docsdesk.core.database import open_database
from docsdesk.core.settings import Settings

SMALL, LARGE = 10, 10_000
SIZES = {"small": SMALL, "large": LARGE}
PAGE = 20
BATCH = 1_000
ANSWER = (
    "To rotate an API key, open Settings > Security, choose the key and press Rotate. "
    "The old key keeps working for 24 hours so deployments can pick up the new one [1]. "
) * 4
TARGET_RATIO, TARGET_P95_MS = 1.2, 5.0


async def seed_thread(engine: AsyncEngine, ctx: RequestContext, n_items: int) -> tuple[str, list[str]]:
    """A thread with `n_items` assistant messages; returns its id and the item ids, oldest first."""
    thread_id = f"thr_{uuid.uuid4().hex}"
    meta = ThreadMetadata(id=thread_id, created_at=datetime.now(), title="bench")
    item_ids = [f"msg_{uuid.uuid4().hex}" for _ in range(n_items)]
    owner = {"tenant_id": ctx.tenant_id, "user_id": ctx.user_id}
    async with engine.begin() as conn:
        thread_row = {"id": thread_id, "data": meta.model_dump(mode="json"), **owner}
        await conn.execute(insert(threads), [thread_row])
        for start in range(0, n_items, BATCH):
            rows = [
                {
                    "id": item_id,
                    "thread_id": thread_id,
                    "data": AssistantMessageItem(
                        id=item_id,
                        thread_id=thread_id,
                        created_at=meta.created_at,
                        content=[AssistantMessageContent(text=f"{n}. {ANSWER}")],
                    ).model_dump(mode="json"),
                    **owner,
                }
                for n, item_id in enumerate(item_ids[start : start + BATCH], start)
            ]
            await conn.execute(insert(items), rows)
    return thread_id, item_ids


async def seed_threads(engine: AsyncEngine, ctx: RequestContext, n_threads: int) -> list[str]:
    """`n_threads` empty threads for one user; returns their ids, least recently active first."""
    ids = [f"thr_{uuid.uuid4().hex}" for _ in range(n_threads)]
    async with engine.begin() as conn:
        for start in range(0, n_threads, BATCH):
            rows = [
                {
                    "id": thread_id,
                    "tenant_id": ctx.tenant_id,
                    "user_id": ctx.user_id,
                    "data": ThreadMetadata(
                        id=thread_id, created_at=datetime.now(), title=f"Question {n}"
                    ).model_dump(mode="json"),
                }
                for n, thread_id in enumerate(ids[start : start + BATCH], start)
            ]
            await conn.execute(insert(threads), rows)
    return ids


def p50_p95(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), statistics.quantiles(samples, n=20, method="inclusive")[18]


async def time_calls(
    calls: dict[str, Callable[[], Awaitable[Any]]], warmup: int, iterations: int
) -> dict[str, list[float]]:
    """Milliseconds per call for each; every iteration runs all of them, in an order that
    rotates, so a burst of machine noise lands on all cases alike."""
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            await calls[name]()
    timings: dict[str, list[float]] = {name: [] for name in names}
    for n in range(iterations):
        shift = n % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            await calls[name]()
            timings[name].append((time.perf_counter() - start) * 1000)
    return timings


async def run(iterations: int, warmup: int) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="docsdesk-bench-store-"))
    db = await open_database(Settings(data_dir=tmp, database_url=os.environ.get("DATABASE_URL")))
    tenant = f"bench-{uuid.uuid4().hex[:12]}"
    try:
        engine = db.engine
        store = PostgresStore(engine)
        items_user = RequestContext(user_id="items-user", tenant_id=tenant)
        few_user = RequestContext(user_id="few-threads", tenant_id=tenant)
        many_user = RequestContext(user_id="many-threads", tenant_id=tenant)

        started = time.perf_counter()
        small_thread, small_items = await seed_thread(engine, items_user, SMALL)
        large_thread, large_items = await seed_thread(engine, items_user, LARGE)
        few_threads = await seed_threads(engine, few_user, SMALL)
        many_threads = await seed_threads(engine, many_user, LARGE)
        async with engine.begin() as conn:
            for table in ("threads", "items"):
                await conn.execute(text(f"ANALYZE {table}"))
        print(
            f"seeded {SMALL + LARGE} items in 2 threads and {SMALL + LARGE} threads for 2 users "
            f"in {time.perf_counter() - started:.1f}s"
        )

        cases = {
            "load_thread_items first page": (
                lambda: store.load_thread_items(small_thread, None, PAGE, "desc", items_user),
                lambda: store.load_thread_items(large_thread, None, PAGE, "desc", items_user),
            ),
            "load_thread_items after cursor": (
                lambda: store.load_thread_items(small_thread, small_items[-1], PAGE, "desc", items_user),
                lambda: store.load_thread_items(
                    large_thread, large_items[LARGE // 2], PAGE, "desc", items_user
                ),
            ),
            "load_threads first page": (
                lambda: store.load_threads(PAGE, None, "desc", few_user),
                lambda: store.load_threads(PAGE, None, "desc", many_user),
            ),
            "load_threads after cursor": (
                lambda: store.load_threads(PAGE, few_threads[-1], "desc", few_user),
                lambda: store.load_threads(PAGE, many_threads[LARGE // 2], "desc", many_user),
            ),
        }
        calls = {(case, label): call for case, pair in cases.items() for label, call in zip(SIZES, pair)}
        rows = {key: len((await call()).data) for key, call in calls.items()}
        timings = await time_calls(calls, warmup, iterations)

        print(f"\n{iterations} iterations per case after {warmup} warm-up calls; page size {PAGE}")
        print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
        print(f"{'case':34} {'size':>7} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8}")
        ok = True
        for case in cases:
            stats = {}
            for label, size in SIZES.items():
                stats[label] = p50_p95(timings[case, label])
                print(
                    f"{case:34} {size:>7} {rows[case, label]:>5} {stats[label][0]:>8.3f} {stats[label][1]:>8.3f}"
                )
            ratio50 = stats["large"][0] / stats["small"][0]
            ratio95 = stats["large"][1] / stats["small"][1]
            passed = (
                max(ratio50, ratio95) <= TARGET_RATIO
                and max(stats["small"][1], stats["large"][1]) <= TARGET_P95_MS
            )
            ok &= passed
            print(
                f"{'':34} ratio large/small: p50 {ratio50:.2f}  p95 {ratio95:.2f}"
                f"  {'OK' if passed else 'MISSED'}"
            )
        print(f"\ntargets: ratio <= {TARGET_RATIO}, p95 <= {TARGET_P95_MS} ms: {'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(delete(threads).where(threads.c.tenant_id == tenant))
        await db.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.iterations, args.warmup)))


if __name__ == "__main__":
    main()
