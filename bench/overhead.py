"""Per-request cost of docsdesk's request stack (auth, rate limits, metrics, access log, request
ids, CORS, body and page-context limits) against the bare ChatKit endpoint, in one run.

Three apps share one database and one `DocsDeskServer`, all answering the same `threads.list`:

- **full**: `create_app(settings)`, everything on: JSON access log (to /dev/null here), rate
  limits (a limit high enough never to refuse), metrics, request ids, CORS for one origin,
  an anonymous session token;
- **auth**: the bare route plus authentication only (the Authorization header verified by
  the real `Authenticator`), to show which share of the cost is the token check;
- **bare**: one FastAPI route that parses the body and calls the same
  `server.process_request` for a fixed identity: no middleware, auth, limits, metrics, logs.

Each app is driven two ways: in-process (httpx ASGITransport) and over a real uvicorn server
on loopback (both servers in this process). Requests go one at a time, in interleaved rounds
of a few requests per app (the order reversing every round), so load from other processes
hits all apps alike. Prints mean/p50/p95 per request, and the added percentage as the
median over rounds of full-p50 / bare-p50 (paired, robust to load that comes and goes).

    python bench/overhead.py [--rounds 300] [--per-round 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from chatkit.types import ChatKitReq  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import Response  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402

from app import create_app  # noqa: E402
from docsdesk.core.context import RequestContext  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402

TARGET_ADDED_PERCENT = 15.0
THREADS = 8
ORIGIN = "https://docs.example"
CLIENT = ("198.51.100.1", 40000)
APPS = ("full", "auth", "bare")
TRANSPORTS = ("in-process", "loopback")
_REQUEST = TypeAdapter(ChatKitReq)


def bare_app(server, user_id: str, authenticator=None) -> FastAPI:
    """The same ChatKit server behind a single route, for one fixed identity (or, with
    `authenticator`, for the identity the request's token names)."""
    app = FastAPI()

    @app.post("/chatkit")
    async def chatkit(request: Request) -> Response:
        user = user_id
        if authenticator is not None:
            user = (await authenticator.authenticate(request.headers)).user_id
        parsed = _REQUEST.validate_json(await request.body())
        ctx = RequestContext(user_id=user, metadata=parsed.metadata)
        result = await server.process_request(parsed, ctx)
        return Response(content=result.json, media_type="application/json")

    return app


@contextlib.asynccontextmanager
async def served(app: FastAPI):
    """`app` on a real uvicorn server on loopback, in this event loop (the caller runs the
    lifespan)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def seed(client: httpx.AsyncClient) -> dict:
    """An anonymous session with THREADS threads (real turns with the offline model)."""
    session = (await client.post("/session")).json()
    headers = {
        "Authorization": f"Bearer {session['token']}",
        "Origin": ORIGIN,
        "Content-Type": "application/json",
    }
    for n in range(THREADS):
        create = {
            "type": "threads.create",
            "params": {
                "input": {
                    "content": [{"type": "input_text", "text": f"Question {n}?"}],
                    "attachments": [],
                    "inference_options": {},
                }
            },
        }
        made = await client.post("/chatkit", content=json.dumps(create), headers=headers)
        if made.status_code != 200:
            raise RuntimeError(f"threads.create answered {made.status_code}: {made.text}")
    return {"user_id": session["user_id"], "headers": headers}


async def timed_requests(client: httpx.AsyncClient, body: bytes, headers: dict, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.post("/chatkit", content=body, headers=headers)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"threads.list answered {response.status_code}: {response.text}")
    return samples


def describe(name: str, samples: list[float]) -> float:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1e3
    print(
        f"  {name:<5} mean {statistics.fmean(ordered) * 1e3:.3f} ms   p50 {p50:.3f} ms   "
        f"p95 {ordered[int(len(ordered) * 0.95)] * 1e3:.3f} ms   ({len(samples)} requests)"
    )
    return p50


def paired_added(slower: list[float], baseline: list[float], per_round: int) -> float:
    """Median over rounds of p50(slower) / p50(baseline) - 1, in percent."""
    ratios = [
        statistics.median(slower[i : i + per_round]) / statistics.median(baseline[i : i + per_round])
        for i in range(0, len(baseline), per_round)
    ]
    return (statistics.median(ratios) - 1) * 100


async def measure(args: argparse.Namespace) -> dict[tuple[str, str], list[float]]:
    samples: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="docsdesk-bench-overhead-") as tmp:
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            database_url=os.environ.get("DATABASE_URL"),
            secret_key="bench-overhead-secret-0123456789abcdef",
            model="offline",
            embeddings="none",
            log_format="json",
            rate_limit_reads="1000000/minute",
            cors_origins=[ORIGIN],
        )
        full = create_app(settings)
        async with full.router.lifespan_context(full):
            logging.getLogger("httpx").setLevel(logging.WARNING)  # the client's own log lines
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=full, client=CLIENT), base_url="http://bench"
            ) as client:
                who = await seed(client)
            services = full.state.services
            apps = {
                "full": full,
                "auth": bare_app(services.server, who["user_id"], services.authenticator),
                "bare": bare_app(services.server, who["user_id"]),
            }
            body = json.dumps({"type": "threads.list", "params": {"limit": 20, "order": "desc"}}).encode()
            async with contextlib.AsyncExitStack() as stack:
                clients = {}
                for name, app in apps.items():
                    transport = httpx.ASGITransport(app=app, client=CLIENT)
                    clients[("in-process", name)] = httpx.AsyncClient(
                        transport=transport, base_url="http://bench"
                    )
                    url = await stack.enter_async_context(served(app))
                    clients[("loopback", name)] = httpx.AsyncClient(base_url=url)
                for client in clients.values():
                    await stack.enter_async_context(client)
                with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):  # noqa: ASYNC230
                    for client in clients.values():  # warm-up
                        await timed_requests(client, body, who["headers"], 50)
                    for round_no in range(args.rounds):
                        keys = list(clients) if round_no % 2 == 0 else list(reversed(clients))
                        for key in keys:
                            samples.setdefault(key, []).extend(
                                await timed_requests(clients[key], body, who["headers"], args.per_round)
                            )
    return samples


def report(samples: dict[tuple[str, str], list[float]], args: argparse.Namespace) -> bool:
    print(
        f"threads.list ({THREADS} threads, offline model, PostgreSQL), one request at a time, "
        f"{args.rounds} interleaved rounds of {args.per_round} requests per app and transport"
    )
    met = True
    for transport in TRANSPORTS:
        print(f"{transport}:")
        p50 = {name: describe(name, samples[(transport, name)]) for name in APPS}
        added = paired_added(samples[(transport, "full")], samples[(transport, "bare")], args.per_round)
        auth = paired_added(samples[(transport, "auth")], samples[(transport, "bare")], args.per_round)
        print(
            f"  added by the whole stack: {added:+.1f}% ({(p50['full'] - p50['bare']) * 1e3:.0f} us at p50); "
            f"by authentication alone: {auth:+.1f}% ({(p50['auth'] - p50['bare']) * 1e3:.0f} us)"
        )
        verdict = "meets" if added <= TARGET_ADDED_PERCENT else "MISSES"
        print(f"  target <= {TARGET_ADDED_PERCENT:.0f}% added: {verdict}")
        met = met and added <= TARGET_ADDED_PERCENT
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--per-round", type=int, default=5)
    args = parser.parse_args()
    samples = asyncio.run(measure(args))
    raise SystemExit(0 if report(samples, args) else 1)


if __name__ == "__main__":
    main()
