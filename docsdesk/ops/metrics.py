"""Prometheus metrics: the metric families, the hooks other modules call, the exposition
(GET /metrics), the database pool gauges and build info while the app serves.

Several worker processes: when PROMETHEUS_MULTIPROC_DIR is set before this module is first
imported (``docsdesk serve --workers N`` creates a fresh one), every worker writes its samples
there and GET /metrics sums them with prometheus-client's MultiProcessCollector.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from importlib import metadata
from pathlib import Path

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import QueuePool, event
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.core.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_SIZE_BUCKETS = (256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)

REQUESTS = Counter(
    "docsdesk_requests_total",
    "HTTP requests by route, ChatKit request type and outcome (error code, else status class).",
    ["route", "type", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "docsdesk_request_duration_seconds",
    "From the request's arrival to the end of its response (whole stream included).",
    ["route", "type"],
    buckets=_LATENCY_BUCKETS,
)
REQUEST_BYTES = Histogram(
    "docsdesk_request_size_bytes", "Declared request body size.", ["route"], buckets=_SIZE_BUCKETS
)
STREAM_SECONDS = Histogram(
    "docsdesk_stream_duration_seconds",
    "Duration of streaming (SSE) responses, from the first byte to the end.",
    ["type"],
    buckets=_LATENCY_BUCKETS,
)
ACTIVE_STREAMS = Gauge(
    "docsdesk_active_streams", "Streaming responses in progress.", multiprocess_mode="livesum"
)
ERRORS = Counter(
    "docsdesk_errors_total",
    "Errors returned to clients, by code: error responses and stream error events.",
    ["code"],
)
RATE_LIMITED = Counter(
    "docsdesk_rate_limited_total", "Requests refused by a rate or concurrency limit.", ["limit"]
)
DB_POOL_IN_USE = Gauge(
    "docsdesk_db_pool_connections_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge("docsdesk_db_pool_size", "Configured database pool size.", multiprocess_mode="livesum")
BUILD_INFO = Gauge(
    "docsdesk_build_info",
    "Always 1; labelled with the version and model kind.",
    ["version", "model"],
    multiprocess_mode="max",
)
SEARCH_SECONDS = Histogram(
    "docsdesk_search_duration_seconds",
    "Documentation search duration (the search_docs tool's work).",
    buckets=_LATENCY_BUCKETS,
)
SEARCH_RESULTS = Histogram(
    "docsdesk_search_results", "Passages returned per search.", buckets=(0, 1, 2, 3, 5, 8, 13, 20)
)
MODEL_CALL_SECONDS = Histogram(
    "docsdesk_model_call_duration_seconds",
    "Duration of one assistant turn's model run (all model calls and tools).",
    ["model", "outcome"],
    buckets=_LATENCY_BUCKETS,
)
FIRST_DELTA_SECONDS = Histogram(
    "docsdesk_time_to_first_text_delta_seconds",
    "From the start of a turn to the first assistant text delta.",
    buckets=_LATENCY_BUCKETS,
)
TOKENS = Counter("docsdesk_model_tokens_total", "Tokens reported by the model.", ["direction"])


TOOL_SECONDS = Histogram(
    "docsdesk_tool_duration_seconds",
    "Duration of one agent tool call, whatever its outcome.",
    ["tool", "outcome"],
    buckets=_LATENCY_BUCKETS,
)


def observe_tool(tool: str, outcome: str, seconds: float) -> None:
    TOOL_SECONDS.labels(tool=tool, outcome=outcome).observe(seconds)


def observe_search(seconds: float, results: int) -> None:
    SEARCH_SECONDS.observe(seconds)
    SEARCH_RESULTS.observe(results)


def observe_model_run(model: str, outcome: str, seconds: float) -> None:
    MODEL_CALL_SECONDS.labels(model=model, outcome=outcome).observe(seconds)


def observe_first_delta(seconds: float) -> None:
    FIRST_DELTA_SECONDS.observe(seconds)


def observe_tokens(input_tokens: int, output_tokens: int) -> None:
    if input_tokens:
        TOKENS.labels(direction="input").inc(input_tokens)
    if output_tokens:
        TOKENS.labels(direction="output").inc(output_tokens)


SOURCE_FAILING = Gauge(
    "docsdesk_source_failing_syncs",
    "Syncs in a row of a source that failed as a whole (0: its last sync succeeded).",
    ["source"],
    multiprocess_mode="livemax",
)


async def observe_sources(request: Request) -> None:
    """Read each source's failing streak for the scrape (the syncs may run in other processes)."""
    from rag.source_state import failing_sources

    services = getattr(request.app.state, "services", None)
    if services is None:
        return
    try:
        sources = await asyncio.wait_for(failing_sources(services.database.engine, after=0), 2.0)
    except Exception:  # noqa: BLE001 - the database away: the other metrics still answer
        return
    SOURCE_FAILING.clear()
    for name, failing, _ in sources:
        SOURCE_FAILING.labels(source=name).set(failing)


def observe_rate_limited(limit: str) -> None:
    RATE_LIMITED.labels(limit=limit).inc()


def render_metrics() -> bytes:
    """The exposition text; in multiprocess mode the sum over every worker's files."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


@contextmanager
def multiprocess_metrics(workers: int) -> Iterator[Path | None]:
    """For a supervisor about to start `workers` processes: make sure PROMETHEUS_MULTIPROC_DIR
    names an empty directory (a fresh temporary one unless the operator chose one, which is
    emptied), and remove the temporary one afterwards. Does nothing for a single worker
    without the variable."""
    chosen = os.environ.get(MULTIPROC_ENV)
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    if workers <= 1:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix="docsdesk-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def _pool_listeners() -> dict[str, Callable[..., None]]:
    """Pool events -> the in-use gauge. The gauge counts the connection records this app has
    seen checked out and not yet returned, so it cannot go negative: the pool also reports a
    check-in for a checkout that failed (the database is down), and a record invalidated
    while out is returned once, whichever event returns it."""
    out: set[object] = set()

    def checkout(_dbapi, record, _proxy) -> None:
        if record not in out:
            out.add(record)
            DB_POOL_IN_USE.inc()

    def returned(_dbapi, record) -> None:
        if record in out:
            out.discard(record)
            DB_POOL_IN_USE.dec()

    def forget() -> None:  # the app stops: what it still holds is no longer in use
        DB_POOL_IN_USE.dec(len(out))
        out.clear()

    # A connection detached while checked out never comes back: it counts as returned.
    return {"checkout": checkout, "checkin": returned, "detach": returned, "forget": forget}


@asynccontextmanager
async def operating(settings: Settings, engine: AsyncEngine) -> AsyncIterator[None]:
    """While the app serves: build info and pool gauges; at the end, this process's live
    gauges are removed from the multiprocess directory."""
    BUILD_INFO.labels(version=_version(), model=settings.resolved_model.split(":", 1)[0]).set(1)
    pool = engine.sync_engine.pool
    listeners = _pool_listeners()
    forget = listeners.pop("forget")
    for name, listener in listeners.items():
        event.listen(pool, name, listener)
    size = pool.size() if isinstance(pool, QueuePool) else 0  # NullPool: no standing connections
    DB_POOL_SIZE.inc(size)
    try:
        yield
    finally:
        DB_POOL_SIZE.dec(size)
        for name, listener in listeners.items():
            event.remove(pool, name, listener)
        forget()
        if os.environ.get(MULTIPROC_ENV):
            multiprocess.mark_process_dead(os.getpid())


@cache
def _version() -> str:
    try:
        return metadata.version("docsdesk")
    except metadata.PackageNotFoundError:
        return "unknown"


def metrics_endpoint(settings: Settings) -> Callable[[Request], Awaitable[Response]]:
    token = settings.metrics_token.get_secret_value().encode() if settings.metrics_token else None

    async def metrics(request: Request) -> Response:
        """Prometheus exposition; a bearer token is required when DOCSDESK_METRICS_TOKEN is set."""
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token):
                return JSONResponse(
                    {
                        "error": {
                            "code": "unauthorized",
                            "message": "a valid metrics bearer token is required",
                        }
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        await observe_sources(request)
        if os.environ.get(MULTIPROC_ENV):
            body = await asyncio.to_thread(render_metrics)  # reads every worker's files
        else:
            body = render_metrics()
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
