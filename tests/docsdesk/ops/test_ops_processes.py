"""Operations across processes: metrics summed over `docsdesk serve --workers 2`, rate limits
shared through a real Redis, graceful shutdown (an in-flight stream finishes, the embedded
PostgreSQL stops), and readiness following a database that stops and comes back."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from docsdesk.core.context import Identity
from docsdesk.core.database import EmbeddedPostgres
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.ops.ratelimit import RateLimits

# The repository root: subprocesses run `python -m docsdesk` from there, so they run this
# checkout's code (from tests/docsdesk they would import whatever docsdesk is installed).
from tests.support import REPO, LiveServer, SlowChunks, new_id
from tests.support.chatkit_client import parse_sse, user_input
from tests.support.fake_openai import FakeOpenAI
from tests.support.system import require_system

SECRET = "process-test-secret-0123456789abcdef0123"
ANSWER = " ".join(f"Sentence number {n} of the slow answer." for n in range(1, 9))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCSDESK_", "OPENAI_", "PROMETHEUS_")) and k != "DATABASE_URL"
    }
    env.update(
        DOCSDESK_SECRET_KEY=SECRET,
        DOCSDESK_MODEL="offline",
        DOCSDESK_EMBEDDINGS="none",
        DOCSDESK_DATA_DIR=str(tmp_path / "data"),
        DOCSDESK_LOG_FORMAT="json",
        DOCSDESK_COLLECTION=new_id("ops"),
    )
    env.update(extra)
    return env


@asynccontextmanager
async def running(
    args: list[str], env: dict[str, str], port: int, log: Path
) -> AsyncIterator[subprocess.Popen]:
    """A server subprocess, ready once GET /healthz answers; SIGTERM (then kill) at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)  # noqa: ASYNC220
    try:
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient() as http:
            while True:
                assert process.poll() is None, log.read_text()[-3000:]  # noqa: ASYNC240
                assert time.monotonic() < deadline, "server did not start:\n" + log.read_text()[-3000:]  # noqa: ASYNC240
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def serve_args(port: int, docs: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "docsdesk",
        "serve",
        "--port",
        str(port),
        "--docs",
        str(docs),
        "--base-url",
        "https://docs.test/",
        "--url-style",
        "plain",
        *extra,
    ]


@pytest.fixture
def tiny_docs(tmp_path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "install.md").write_text("# Install\n\nRun the installer, then start the server.\n")
    return docs


def log_lines(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def metric(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


# --- several workers: metrics ---------------------------------------------------------------


async def test_metrics_are_summed_across_two_workers(database, tmp_path, tiny_docs):
    port = free_port()
    env = server_env(tmp_path, DATABASE_URL=database.url, DOCSDESK_RATE_LIMIT_SESSIONS="1000/minute")
    log = tmp_path / "serve.log"
    async with running(serve_args(port, tiny_docs, "--workers", "2"), env, port, log):
        sent = 0
        served_by: set[int] = set()
        # New connection per request, so the kernel spreads them over both workers.
        async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as http:
            while sent < 200 and (len(served_by) < 2 or sent < 20):
                assert (await http.post(f"http://127.0.0.1:{port}/session")).status_code == 200
                sent += 1
                await asyncio.sleep(0.01)
                served_by = {line["pid"] for line in log_lines(log) if line.get("path") == "/session"}
            assert len(served_by) == 2, "one worker served every request"
            scraped = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    assert metric(scraped, "docsdesk_requests_total", route="/session", outcome="2xx") == sent
    assert metric(scraped, "docsdesk_request_duration_seconds_count", route="/session") == sent
    # Gauges of live workers add up: two pools of the configured size.
    assert metric(scraped, "docsdesk_db_pool_size") == 2 * Settings.model_fields["db_pool_size"].default


# --- several processes: limits shared through Redis ---------------------------------------


@pytest.fixture
def redis_url(tmp_path) -> str:
    require_system("redis")
    binary = shutil.which("redis-server")
    assert binary is not None
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


async def test_limits_are_shared_between_processes_through_redis(database, tmp_path, redis_url):
    ports = [free_port(), free_port()]
    env = server_env(
        tmp_path,
        DATABASE_URL=database.url,
        DOCSDESK_RATE_LIMIT_STORAGE=redis_url,
        DOCSDESK_RATE_LIMIT_SESSIONS="3/minute",
        DOCSDESK_RATE_LIMIT_READS="3/minute",
    )
    args = [sys.executable, "-m", "uvicorn", "app:create_app", "--factory", "--no-proxy-headers"]
    async with (
        running([*args, "--port", str(ports[0])], env, ports[0], tmp_path / "a.log"),
        running([*args, "--port", str(ports[1])], env, ports[1], tmp_path / "b.log"),
        httpx.AsyncClient() as http,
    ):
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        session = (await http.post(f"{a}/session")).json()
        assert (await http.post(f"{b}/session")).status_code == 200
        assert (await http.post(f"{a}/session")).status_code == 200
        refused = await http.post(f"{b}/session")  # 4th from this IP, across both instances
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1

        headers = {"Authorization": f"Bearer {session['token']}"}
        body = {"type": "threads.list", "params": {"limit": 1}}
        for base in (a, b, a):
            assert (await http.post(f"{base}/chatkit", json=body, headers=headers)).status_code == 200
        refused = await http.post(f"{b}/chatkit", json=body, headers=headers)
        assert refused.status_code == 429 and "Retry-After" in refused.headers


async def test_stream_slots_are_shared_through_redis(redis_url):
    settings = Settings(_env_file=None, rate_limit_storage=redis_url, max_concurrent_streams_per_user=2)
    first, second = RateLimits(settings), RateLimits(settings)  # as two processes would
    assert not first.local
    identity = Identity(new_id("user"), "tenant")

    class Req:
        def __init__(self) -> None:
            self.scope: dict = {}
            self.state = None

    held = [Req(), Req()]
    await first.admit_chatkit(held[0], identity, "threads.create")
    await second.admit_chatkit(held[1], identity, "threads.add_user_message")
    with pytest.raises(ApiError) as refused:
        await first.admit_chatkit(Req(), identity, "threads.create")
    assert refused.value.code == "too_many_streams"
    for release in held[1].scope["state"]["docsdesk.on_end"]:
        await release()
    await first.admit_chatkit(Req(), identity, "threads.create")


# --- graceful shutdown --------------------------------------------------------------------


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "postgres" in cmdline and str(pgdata) in cmdline:
            found.append(process)
    return found


async def test_sigterm_lets_the_stream_finish_then_stops_embedded_postgres(tmp_path, tiny_docs):
    fake = FakeOpenAI()
    fake.app = SlowChunks(fake.app, 0.4)  # the model answers one sentence every 0.4 s
    fake.enqueue(*[ANSWER] * 4)
    port = free_port()
    async with fake:
        env = server_env(
            tmp_path,
            DOCSDESK_MODEL="openai-chat:slow-model",
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=fake.base_url,
            DOCSDESK_SHUTDOWN_GRACE_SECONDS="30",
        )
        log = tmp_path / "serve.log"
        async with running(serve_args(port, tiny_docs), env, port, log) as process:
            pgdata = (tmp_path / "data" / "pg").resolve()
            assert postgres_processes(pgdata), "the embedded PostgreSQL is not running"
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                token = (await http.post("/session")).json()["token"]
                body = {"type": "threads.create", "params": {"input": user_input("How do I install it?")}}
                async with http.stream(
                    "POST", "/chatkit", json=body, headers={"Authorization": f"Bearer {token}"}
                ) as response:
                    assert response.status_code == 200
                    chunks = response.aiter_bytes()
                    received = await anext(chunks)  # the stream is under way ...
                    process.send_signal(signal.SIGTERM)  # ... when the server is told to stop
                    signalled = time.monotonic()
                    async for chunk in chunks:
                        received += chunk
            streamed_after_signal = time.monotonic() - signalled
            events = parse_sse(received.decode())
            answer = [
                e["item"]
                for e in events
                if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
            ]
            assert answer and "Sentence number 8" in answer[0]["content"][0]["text"], events[-3:]
            assert not [e for e in events if e["type"] == "error"]
            assert streamed_after_signal > 1.0  # the answer really was in flight
            assert await asyncio.to_thread(process.wait, 60) == 0
    assert not postgres_processes(pgdata), "PostgreSQL still running after shutdown"
    access = [line for line in log_lines(log) if line.get("chatkit_type") == "threads.create"]
    assert access and access[0]["status"] == 200 and access[0]["stream_ms"] > 1000


# --- readiness ----------------------------------------------------------------------------


async def test_readiness_follows_the_database(base_settings, tmp_path):
    pg = await asyncio.to_thread(EmbeddedPostgres.start, tmp_path / "own-pg")
    try:
        settings = base_settings.model_copy(update={"database_url": pg.url})
        async with LiveServer(create_app(settings)) as live, httpx.AsyncClient(base_url=live.url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"

            await asyncio.to_thread(pg.stop)
            down = await http.get("/readyz")
            assert down.status_code == 503
            body = down.json()
            assert body["status"] == "not_ready"
            assert body["components"]["database"]["status"] == "error"
            assert body["components"]["database"]["error"]
            assert (await http.get("/healthz")).status_code == 200  # alive, just not ready

            pg = await asyncio.to_thread(EmbeddedPostgres.start, tmp_path / "own-pg")
            for _ in range(50):
                back = await http.get("/readyz")
                if back.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert back.status_code == 200, back.text
            assert back.json()["components"]["migrations"]["status"] == "ok"
    finally:
        await asyncio.to_thread(pg.stop)
