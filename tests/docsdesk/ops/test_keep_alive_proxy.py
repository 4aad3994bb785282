"""Keep-alive behind nginx, for real: `docsdesk serve` (default settings) behind nginx configured
with docs/deployment.md's blocks (upstream keep-alive). A burst of requests opens upstream
connections; after an idle period longer than the old 5 s keep-alive default and the header
deadline, those connections are still open (nginx, not docsdesk, closes idle ones), and a second
burst on them has no failed request."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support import REPO
from tests.test_topology import ensure_packages, free_port, nginx_bin, nginx_config, wait_for_port

IDLE_SECONDS = 12  # longer than the old keep-alive (5 s) and the header deadline (10 s)
BURST = 32  # concurrent requests: as many as the documented `keepalive 32` keeps
ROUNDS = 4  # requests per concurrent client in a burst

pytestmark = pytest.mark.timeout(300)


def serve_env(base: Path, database_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCSDESK_", "OPENAI_", "PROMETHEUS_")) and key != "DATABASE_URL"
    }
    return {
        **env,
        "DATABASE_URL": database_url,
        "DOCSDESK_DATA_DIR": str(base / "data"),
        "DOCSDESK_SECRET_KEY": "keep-alive-secret-0123456789abcdef0123456789",
        "DOCSDESK_MODEL": "offline",
        "DOCSDESK_TRUSTED_PROXIES": "127.0.0.1",
        "DOCSDESK_RATE_LIMIT_READS": "100000/minute",
        "DOCSDESK_RATE_LIMIT_SESSIONS": "100000/minute",
    }


@contextmanager
def served_behind_nginx(database_url: str) -> Iterator[tuple[str, int]]:
    """(nginx URL, docsdesk port): one `docsdesk serve` and nginx in front of it."""
    ensure_packages()
    base = Path(tempfile.mkdtemp(prefix="docsdesk-keepalive-"))
    base.chmod(0o755)  # nginx's workers run as another user
    port, nginx_port = free_port(), free_port()
    log = (base / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "docsdesk"), "serve", "--port", str(port)],
        cwd=REPO,
        env=serve_env(base, database_url),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    processes = [serve]
    try:
        wait_for_port(port, serve, seconds=120)
        nginx_dir = base / "nginx"
        nginx_dir.mkdir()
        nginx_dir.chmod(0o755)
        (nginx_dir / "nginx.conf").write_text(nginx_config(nginx_dir, nginx_port, [port]))
        nginx = subprocess.Popen(
            [
                nginx_bin(),
                "-p",
                str(nginx_dir),
                "-c",
                str(nginx_dir / "nginx.conf"),
                "-e",
                str(nginx_dir / "error.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(nginx)
        wait_for_port(nginx_port, nginx)
        yield f"http://127.0.0.1:{nginx_port}", port
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def upstream_connections(port: int) -> set[tuple[int, int]]:
    """The established connections into docsdesk's port: (nginx's port, docsdesk's port)."""
    return {
        (conn.raddr.port, conn.laddr.port)
        for conn in psutil.net_connections("tcp4")
        if conn.status == psutil.CONN_ESTABLISHED and conn.laddr and conn.laddr.port == port and conn.raddr
    }


async def burst(http: httpx.AsyncClient, token: str) -> list[str]:
    """BURST clients at once, ROUNDS requests each (a ChatKit read and a liveness probe);
    the failures, described."""
    failures: list[str] = []

    async def client() -> None:
        for _ in range(ROUNDS):
            try:
                listed = await http.post(
                    "/chatkit",
                    json={"type": "threads.list", "params": {"limit": 1}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                ready = await http.get("/healthz")
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            failures.extend(
                f"{r.request.url.path}: {r.status_code}" for r in (listed, ready) if r.status_code != 200
            )

    await asyncio.gather(*(client() for _ in range(BURST)))
    return failures


async def test_a_burst_after_an_idle_period_reuses_the_proxys_connections_without_failures(database):
    with served_behind_nginx(database.url) as (url, port):
        limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
            for _ in range(120):  # the app is ready once its lifespan ran
                if (await http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.5)
            token = (await http.post("/session")).json()["token"]
            assert await burst(http, token) == []
            before = upstream_connections(port)
            assert len(before) >= 2, before  # nginx keeps several connections to docsdesk
            started = time.monotonic()
            await asyncio.sleep(IDLE_SECONDS)
            still_open = upstream_connections(port)
            # docsdesk closed none of nginx's idle connections (the old 5 s default closed all).
            assert before <= still_open, (before, still_open, time.monotonic() - started)
            assert await burst(http, token) == []
