"""The production topology, for real: a system PostgreSQL 15 (Debian's, no pgvector), two
`docsdesk serve` instances on it (DATABASE_URL), Redis for shared limits, and nginx in front with
its default buffering settings plus exactly the settings docs/deployment.md tells operators to set
(read from that page). What is installed is what CI installs (.ci/run); missing packages are
installed from Debian's archive here (as root); what is still missing skips the module, naming the
install command (a failure under DOCSDESK_REQUIRE_SYSTEM_TESTS=1, as in .ci/run).

Through nginx: a conversation alternates between the instances turn by turn, streams arrive
incrementally, rate limits are shared, and stopping one instance mid-stream loses no
acknowledged message.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support import FIXTURE_DOCS, REPO, SlowChunks
from tests.support.chatkit_client import parse_sse, user_input
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.system import PACKAGES, missing, nginx_bin, postgres_bin, require_system

DEPLOYMENT_DOC = REPO / "docsdesk" / "own_docs" / "deployment.md"
SECRET = "topology-secret-0123456789abcdef0123456789"
COLLECTION = "topology"
READS_PER_MINUTE = 8
ANSWER = " ".join(
    f"Sentence {n} of a slowly streamed answer about workers and retries." for n in range(1, 13)
)
CHUNK_DELAY = 0.12  # the fake model sends one chunk every CHUNK_DELAY seconds

pytestmark = pytest.mark.timeout(600)


# --- system packages ------------------------------------------------------------------------


TOPOLOGY_PACKAGES = ("postgresql", "nginx", "redis")


def ensure_packages() -> None:
    """Install what is missing from Debian's archive (apt-get, as root); then `require_system`:
    whatever is still missing skips the module, naming the command that installs it."""
    need = missing(*TOPOLOGY_PACKAGES)
    if need and os.geteuid() == 0 and shutil.which("apt-get"):
        debian = [package for name in need for package in PACKAGES[name].debian]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(
                ["apt-get", "update", "-qq"], check=True, env=env, capture_output=True, timeout=600
            )
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *debian],
                check=True,
                env=env,
                capture_output=True,
                timeout=600,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            print(f"apt-get could not install {' '.join(debian)}: {exc.stderr!r}", file=sys.stderr)
    require_system(*TOPOLOGY_PACKAGES)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"process exited with {process.returncode}") from None
            assert time.monotonic() < deadline, f"nothing listens on port {port} after {seconds} s"
            time.sleep(0.05)


# --- PostgreSQL 15 --------------------------------------------------------------------------


class SystemPostgres:
    """Debian's PostgreSQL server in a temporary data dir, on a loopback port. initdb and the
    server refuse to run as root: then they run as the `postgres` user (or `nobody`)."""

    def __init__(self, base: Path) -> None:
        self.bin = postgres_bin()
        assert self.bin is not None
        self.base = base
        self.pgdata = base / "pgdata"
        self.port = free_port()
        self.url = f"postgresql://docsdesk@127.0.0.1:{self.port}/postgres"
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres").pw_name
            except KeyError:
                self.user = "nobody"

    def run(self, *args: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run([*prefix, *args], check=True, capture_output=True, text=True, cwd=self.base)

    def start(self) -> None:
        self.pgdata.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        self.run(
            str(self.bin / "initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            "docsdesk",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        )
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.pgdata} -c max_connections=200"
        self.run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.pgdata),
            "-l",
            str(self.pgdata / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def version(self) -> str:
        return (self.pgdata / "PG_VERSION").read_text().strip()

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.run(str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop")


# --- Redis, nginx ---------------------------------------------------------------------------


def start_redis(base: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process)
    return process, f"redis://127.0.0.1:{port}/0"


def documented_nginx_blocks() -> tuple[str, str]:
    """The `upstream docsdesk {...}` and `location / {...}` blocks of docs/deployment.md."""
    blocks = re.findall(r"```nginx\n(.*?)```", DEPLOYMENT_DOC.read_text(), re.S)
    upstream = next(b for b in blocks if b.lstrip().startswith("upstream docsdesk"))
    location = next(b for b in blocks if b.lstrip().startswith("location / {"))
    return upstream, location


def nginx_config(base: Path, port: int, upstreams: list[int]) -> str:
    upstream, location = documented_nginx_blocks()
    # The documented upstream, with this test's instances for the example addresses.
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in upstreams)
    upstream = re.sub(r"(    server [^;]+;\n)+", servers, upstream, count=1)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (base / name).mkdir(exist_ok=True)
        (base / name).chmod(0o777)
    return f"""
worker_processes 1;
daemon off;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/client_body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
{upstream}
    server {{
        listen 127.0.0.1:{port};
        # Test instrumentation only: which instance answered.
        add_header X-Upstream $upstream_addr always;
{location}
    }}
}}
"""


# --- the topology ---------------------------------------------------------------------------


@dataclass
class Instance:
    port: int
    log: Path
    process: subprocess.Popen

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def console(self) -> str:
        return self.log.read_text()


@dataclass
class Topology:
    url: str
    instances: dict[int, Instance]
    postgres: SystemPostgres
    fake: FakeOpenAI
    nginx_dir: Path
    stopped: set[int] = field(default_factory=set)

    def instance_of(self, response: httpx.Response) -> Instance:
        # $upstream_addr: "127.0.0.1:PORT" (or several, comma-separated, after a failover).
        last = response.headers["X-Upstream"].split(",")[-1].strip()
        return self.instances[int(last.rsplit(":", 1)[1])]


def instance_env(base: Path, postgres: SystemPostgres, redis_url: str, model_url: str, public: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCSDESK_", "OPENAI_", "PROMETHEUS_")) and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=postgres.url,
        DOCSDESK_DATA_DIR=str(base / "data"),
        DOCSDESK_SECRET_KEY=SECRET,
        DOCSDESK_COLLECTION=COLLECTION,
        DOCSDESK_EMBEDDINGS="none",
        DOCSDESK_MODEL="openai-chat:slow-model",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=model_url,
        DOCSDESK_RATE_LIMIT_STORAGE=redis_url,
        DOCSDESK_RATE_LIMIT_READS=f"{READS_PER_MINUTE}/minute",
        DOCSDESK_RATE_LIMIT_SESSIONS="1000/minute",
        DOCSDESK_TRUSTED_PROXIES="127.0.0.1",
        DOCSDESK_LOG_FORMAT="json",
        DOCSDESK_PUBLIC_URL=public,
        DOCSDESK_SHUTDOWN_GRACE_SECONDS="30",
    )
    return env


class Stack:
    """The processes of the topology, started and stopped in order (blocking: run in a thread)."""

    def __init__(self, base: Path, model_url: str) -> None:
        self.base = base
        self.model_url = model_url
        self.postgres = SystemPostgres(base)
        self.processes: list[subprocess.Popen] = []
        self.instances: dict[int, Instance] = {}
        self.nginx_port = free_port()
        self.nginx_dir = base / "nginx"

    def start_backends(self) -> None:
        self.base.chmod(0o755)  # PostgreSQL and nginx's workers run as other users
        self.postgres.start()
        redis, redis_url = start_redis(self.base)
        self.processes.append(redis)
        env = instance_env(
            self.base, self.postgres, redis_url, self.model_url, f"http://127.0.0.1:{self.nginx_port}"
        )
        ingest = subprocess.run(
            [
                sys.executable,
                "-m",
                "docsdesk",
                "ingest",
                str(FIXTURE_DOCS),
                "--base-url",
                "https://docs.test/",
                "--collection",
                COLLECTION,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        assert ingest.returncode == 0, ingest.stderr
        for name in ("a", "b"):
            port = free_port()
            log = self.base / f"instance-{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "docsdesk", "serve", "--host", "127.0.0.1", "--port", str(port)],
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            self.processes.append(process)
            self.instances[port] = Instance(port, log, process)

    def start_nginx(self) -> None:
        self.nginx_dir.mkdir()
        self.nginx_dir.chmod(0o755)
        conf = self.nginx_dir / "nginx.conf"
        conf.write_text(nginx_config(self.nginx_dir, self.nginx_port, list(self.instances)))
        args = [
            nginx_bin(),
            "-c",
            str(conf),
            "-p",
            str(self.nginx_dir),
            "-e",
            str(self.nginx_dir / "error.log"),
        ]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.insert(0, nginx)
        wait_for_port(self.nginx_port, nginx)

    def stop(self) -> None:
        for process in reversed(self.processes[1:] + self.processes[:1]):  # nginx first, Redis last
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.postgres.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
async def topology() -> Iterator[Topology]:
    ensure_packages()
    fake = FakeOpenAI()
    fake.app = SlowChunks(fake.app, CHUNK_DELAY)
    # Every model call gets an answer: titles at once, turns as a slow stream.
    fake.side_replies = lambda body: Reply(text=ANSWER) if body.get("stream") else Reply(text="A title")
    async with fake:
        stack = Stack(Path(tempfile.mkdtemp(prefix="docsdesk-topology-")), fake.base_url)
        try:
            await asyncio.to_thread(stack.start_backends)
            for instance in stack.instances.values():
                await wait_ready(instance)
            await asyncio.to_thread(stack.start_nginx)
            yield Topology(
                f"http://127.0.0.1:{stack.nginx_port}", stack.instances, stack.postgres, fake, stack.nginx_dir
            )
        finally:
            await asyncio.to_thread(stack.stop)


async def wait_ready(instance: Instance, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{instance.port}", timeout=5) as http:
        while True:
            assert instance.process.poll() is None, instance.console()[-3000:]
            assert time.monotonic() < deadline, "instance not ready:\n" + instance.console()[-3000:]
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)


# --- the client side ------------------------------------------------------------------------


async def login(http: httpx.AsyncClient) -> dict[str, str]:
    response = await http.post("/session")
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


@dataclass
class Turn:
    response: httpx.Response
    events: list[dict]
    first_event_at: float
    first_delta_at: float
    ended_at: float


async def turn(http: httpx.AsyncClient, headers: dict, thread_id: str | None, text: str) -> Turn:
    if thread_id is None:
        body = {"type": "threads.create", "params": {"input": user_input(text)}}
    else:
        body = {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_input(text)},
        }
    started = time.monotonic()
    raw = b""
    first_event = first_delta = None
    async with http.stream("POST", "/chatkit", json=body, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        async for chunk in response.aiter_raw():
            now = time.monotonic() - started
            raw += chunk
            if first_event is None and b"data: " in raw:
                first_event = now
            if first_delta is None and b"text_delta" in raw:
                first_delta = now
    return Turn(response, parse_sse(raw.decode()), first_event, first_delta, time.monotonic() - started)


def answer_of(events: list[dict]) -> str:
    done = [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    ]
    assert done, events[-3:]
    return done[-1]["content"][0]["text"]


# --- the tests ------------------------------------------------------------------------------


async def test_postgres_15_without_pgvector_is_full_text_only_said_once(topology):
    assert topology.postgres.version() == "15"
    for instance in topology.instances.values():
        said = [line for line in instance.console().splitlines() if "pgvector" in line]
        assert len(said) == 1, said
        assert "full-text only" in said[0]
    async with httpx.AsyncClient(base_url=topology.url) as http:
        ready = (await http.get("/readyz")).json()
    assert ready["status"] == "ready" and ready["components"]["search"]["vector"] is False


async def test_a_conversation_alternates_between_instances_and_streams_incrementally(topology):
    async with httpx.AsyncClient(base_url=topology.url, timeout=60) as http:
        headers = await login(http)
        thread_id = None
        served_by: list[int] = []
        for number in range(4):
            done = await turn(http, headers, thread_id, f"Question {number}: how do retries work?")
            if thread_id is None:
                thread_id = next(e["thread"]["id"] for e in done.events if e["type"] == "thread.created")
            assert "Sentence 12" in answer_of(done.events)
            instance = topology.instance_of(done.response)
            served_by.append(instance.port)
            # docsdesk's own access line for this request is on that instance (request id from nginx).
            request_id = done.response.headers["X-Request-ID"]
            assert any(line.get("request_id") == request_id for line in instance.log_lines())
            # Incremental: the first event, and the first answer text, long before the turn ends.
            assert done.first_event_at < done.ended_at - 1.0, (done.first_event_at, done.ended_at)
            assert done.first_delta_at < done.ended_at - 0.5, (done.first_delta_at, done.ended_at)
        assert all(a != b for a, b in itertools.pairwise(served_by)), served_by
        assert set(served_by) == set(topology.instances)

        items = await http.post(
            "/chatkit",
            headers=headers,
            json={"type": "items.list", "params": {"thread_id": thread_id, "limit": 50, "order": "asc"}},
        )
        stored = [
            i["type"] for i in items.json()["data"] if i["type"] in ("user_message", "assistant_message")
        ]
        assert stored == ["user_message", "assistant_message"] * 4


async def test_rate_limits_are_shared_across_instances(topology):
    async with httpx.AsyncClient(base_url=topology.url, timeout=30) as http:
        headers = await login(http)
        body = {"type": "threads.list", "params": {"limit": 1}}
        answered = [await http.post("/chatkit", json=body, headers=headers) for _ in range(READS_PER_MINUTE)]
        assert [r.status_code for r in answered] == [200] * READS_PER_MINUTE
        assert {topology.instance_of(r).port for r in answered} == set(topology.instances)
        refused = await http.post("/chatkit", json=body, headers=headers)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        other = topology.instance_of(refused)
        # The other instance refuses too: the budget is the deployment's, not one process's.
        again = await http.post("/chatkit", json=body, headers=headers)
        assert again.status_code == 429 and topology.instance_of(again) is not other


async def test_stopping_an_instance_mid_stream_loses_no_acknowledged_message(topology):
    async with httpx.AsyncClient(base_url=topology.url, timeout=60) as http:
        headers = await login(http)
        first = await turn(http, headers, None, "How do workers pick up jobs?")
        thread_id = next(e["thread"]["id"] for e in first.events if e["type"] == "thread.created")

        body = {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_input("And when a worker dies?")},
        }
        raw = b""
        async with http.stream("POST", "/chatkit", json=body, headers=headers) as response:
            assert response.status_code == 200
            victim = topology.instance_of(response)
            chunks = response.aiter_raw()
            while b"text_delta" not in raw:
                raw += await anext(chunks)
            victim.process.send_signal(signal.SIGTERM)  # stop it mid-stream
            topology.stopped.add(victim.port)
            async for chunk in chunks:
                raw += chunk
        events = parse_sse(raw.decode())
        assert "Sentence 12" in answer_of(events)  # the stream under way was finished
        assert not [e for e in events if e["type"] == "error"]
        assert await asyncio.to_thread(victim.process.wait, 60) == 0

        # Meanwhile and after, nginx sends everything to the other instance: no failed request.
        survivor = next(i for p, i in topology.instances.items() if p != victim.port)
        third = await turn(http, headers, thread_id, "Who retries the job?")
        assert topology.instance_of(third.response) is survivor
        items = await http.post(
            "/chatkit",
            headers=headers,
            json={"type": "items.list", "params": {"thread_id": thread_id, "limit": 50, "order": "asc"}},
        )
        assert items.status_code == 200, items.text
        texts = [
            (i["type"], i["content"][0]["text"])
            for i in items.json()["data"]
            if i["type"] in ("user_message", "assistant_message")
        ]
        acknowledged = [
            ("user_message", "How do workers pick up jobs?"),
            ("assistant_message", answer_of(first.events)),
            ("user_message", "And when a worker dies?"),
            ("assistant_message", answer_of(events)),
            ("user_message", "Who retries the job?"),
            ("assistant_message", answer_of(third.events)),
        ]
        assert texts == acknowledged
