"""`docsdesk worker`: run the sync and upload jobs and the sources' schedules on any machine
that reaches the database; `docsdesk jobs show|cancel ID`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from datetime import timedelta

from docsdesk.cli.common import fail, say, settings


def register(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    subparsers.choices["serve"].add_argument(
        "--no-worker",
        action="store_true",
        help="serve only: leave sync and upload jobs and schedules to `docsdesk worker` processes",
    )
    worker = subparsers.add_parser(
        "worker",
        help="run sync and upload jobs and the sources' schedules",
        description="Run the jobs of the queue (syncs of sources, uploaded archives) and enqueue the scheduled "
        "syncs, until stopped (SIGTERM, Ctrl-C). Run as many as you like, on any machine that "
        "reaches the database; `docsdesk serve` runs one too unless given --no-worker.",
        formatter_class=formatter,
    )
    worker.add_argument("--concurrency", type=int, default=2, help="jobs run at once by this worker")
    worker.add_argument(
        "--heartbeat",
        type=float,
        default=30.0,
        help="seconds: a job whose worker has not been heard of for this long is run again by another",
    )
    worker.add_argument(
        "--schedule-poll", type=float, default=30.0, help="seconds between looks for syncs due"
    )
    worker.set_defaults(func=run_worker_command)
    jobs = subparsers.add_parser("jobs", help="a job's state, or cancel it", formatter_class=formatter)
    actions = jobs.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, help_ in (
        ("show", "a job's state and progress (JSON)"),
        ("cancel", "cancel a queued or running job"),
    ):
        action = actions.add_parser(name, help=help_, formatter_class=formatter)
        action.add_argument("id", type=int)
    jobs.set_defaults(func=run_jobs_command)


def run_worker_command(args: argparse.Namespace) -> None:
    if args.concurrency < 1 or args.heartbeat <= 0 or args.schedule_poll <= 0:
        fail("--concurrency, --heartbeat and --schedule-poll must be positive")
    asyncio.run(_worker(args))


async def _worker(args: argparse.Namespace) -> None:
    from docsdesk.core.database import open_database
    from docsdesk.jobs.worker import WorkerOptions, run_worker
    from rag.embeddings import build_embedder

    config = settings()
    db = await open_database(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    options = WorkerOptions(timedelta(seconds=args.heartbeat), args.schedule_poll, args.concurrency)
    try:
        say(f"worker ready (jobs at once: {args.concurrency})")
        embedder = build_embedder(config.embeddings, config)
        await run_worker(db.engine, config.data_dir / "sources", embedder, stop, options)
        say("worker stopped")
    finally:
        await db.close()


def run_jobs_command(args: argparse.Namespace) -> None:
    asyncio.run(_jobs(args))


async def _jobs(args: argparse.Namespace) -> None:
    from docsdesk.core.database import open_database
    from docsdesk.jobs.queue import cancel_job
    from docsdesk.jobs.store import get_job

    db = await open_database(settings())
    try:
        if args.action == "cancel":
            if not await cancel_job(db.engine, args.id):
                fail(f"no queued or running job {args.id}")
            print(f"docsdesk: cancelled job {args.id}")
            return
        job = await get_job(db.engine, args.id)
        if job is None:
            fail(f"no job {args.id}")
            return
        print(json.dumps(job.to_json(), indent=2))
    finally:
        await db.close()
