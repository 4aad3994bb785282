"""Helpers shared by the tests: paths, ids, documentation fixtures, a live uvicorn server."""

from __future__ import annotations

import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The shared documentation corpus beside the repository (the optional corpus tier).
CORPUS = REPO.parent / "shared" / "corpus"
# A small documentation set the tests own (a fictional job queue, mkdocs layout).
FIXTURE_DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "docs"


def write_pages(root: Path, pages: dict[str, str]) -> Path:
    """Write {relative path: text} under `root`; return `root`."""
    for name, body in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return root


async def ingested_pages(engine, root: Path, pages: dict[str, str], base_url: str) -> str:
    """`pages` written under `root` and ingested (full text only) into a fresh collection; its name."""
    from rag.ingest import ingest

    collection = new_id("c")
    await ingest(engine, [write_pages(root, pages)], base_url=base_url, collection=collection)
    return collection


def new_id(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class LiveServer:
    """A real uvicorn server for an app, on a free loopback port, in this event loop."""

    def __init__(self, app) -> None:
        import uvicorn

        self.config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,  # as `docsdesk serve`: client IPs follow DOCSDESK_TRUSTED_PROXIES
        )
        self.server = uvicorn.Server(self.config)
        self.task = None
        self.url = ""

    async def __aenter__(self) -> LiveServer:
        import asyncio

        self.task = asyncio.create_task(self.server.serve())
        await wait_started(self.server, self.task)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.should_exit = True
        await self.task


async def wait_ready(
    url: str, process=None, *, deadline_seconds: float = 60.0, path: str = "/readyz"
) -> None:
    """Wait until `url + path` answers 200; fail loudly (with the process's output, if it
    died) at the deadline, never fall through."""
    import asyncio
    import time

    import httpx

    deadline = time.monotonic() + deadline_seconds
    last = "no answer"
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(
                    f"server exited with {process.returncode} before it was ready:\n{output}"
                )
            try:
                response = await http.get(path)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url}{path} not ready after {deadline_seconds:.0f} s (last: {last})")


async def wait_started(server, task, deadline_seconds: float = 60.0) -> None:
    """Wait for an in-loop uvicorn server to start; raise its start-up error, or fail loudly
    at the deadline."""
    import asyncio
    import time

    deadline = time.monotonic() + deadline_seconds
    while not server.started:
        if task.done():
            task.result()  # start-up failed: raise its error
            raise AssertionError("the server stopped before it started")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise AssertionError(f"the server did not start within {deadline_seconds:.0f} s")
        await asyncio.sleep(0.02)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """`docsdesk serve` as a real process on a free port, offline model, ready (/readyz 200) on
    entry; terminated on exit, after which `output` holds what it printed."""

    def __init__(self, command: list[str], env: dict[str, str], *, cwd: Path = REPO) -> None:
        import os

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [*command, "serve", "--port", str(self.port)]
        self.env = {**os.environ, "DOCSDESK_MODEL": "offline", **env}
        self.env.pop("OPENAI_API_KEY", None)
        self.cwd = cwd
        self.output = ""

    def with_args(self, *args: str) -> ServeProcess:
        self.command.extend(args)
        return self

    async def __aenter__(self) -> ServeProcess:
        import subprocess

        self.process = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block
            self.command, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        try:
            await wait_ready(self.url, self.process, deadline_seconds=120)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        import asyncio

        self.process.terminate()
        output, _ = await asyncio.to_thread(self.process.communicate, timeout=60)
        self.output = output.decode(errors="replace")


class SlowChunks:
    """Delays every response body chunk of the wrapped ASGI app (a slowly streaming model)."""

    def __init__(self, app, delay: float) -> None:
        self.app, self.delay = app, delay

    async def __call__(self, scope, receive, send):
        import asyncio

        async def slow_send(message):
            if message["type"] == "http.response.body" and message.get("body"):
                await asyncio.sleep(self.delay)
            await send(message)

        await self.app(scope, receive, slow_send)
