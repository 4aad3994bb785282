"""Assistant throughput benchmark: docsdesk over HTTP vs the ChatKit SDK floor, offline model.

One run measures, at each concurrency level (default 1, 8, 32 and 64 conversations at once):

- **ours**: the real app (`uvicorn app:create_app`, 1 worker, loopback) in a separate process on
  the PostgreSQL store, driven over HTTP by this process (one anonymous session per
  conversation, `threads.create` then `threads.add_user_message` turns);
- **floor**: the chatkit SDK's `ChatKitServer` with an in-memory store (bench/_memory_store.py),
  driven in-process through `server.process()`, answering with the same Agent (same offline
  model, same `search_docs` tool over the same DocsSearch and database, same
  `stream_agent_response`);

each level run as alternating rounds (ours/floor, floor/ours, ...: `--rounds`, default 4) so
that load drifting on the shared machine hits both alike, and prints failed turns (listed, each with its reason), turns/s, per-turn ms, p50/p95 time to the first SSE byte and to the first
`assistant_message.content_part.text_delta`, CPU ms per turn of each process, the ours/floor
ratios and the targets. Everything runs on one machine: the load generator, the server and
PostgreSQL share its cores. With --profile, one more run at the top level samples the
server with py-spy and prints where its time goes.

The database is an embedded PostgreSQL in a temporary directory, or DATABASE_URL (which then
keeps the benchmark's collection and threads).

    python bench/turns.py [--levels 1,8,32,64] [--turns N] [--per-conversation 4] [--profile FILE]
    python bench/turns.py --recording-cost [--levels 1,8]   # turn recording (insights) on vs off
    python bench/turns.py --assistants 20 [--levels 1,8]    # 20 configured assistants vs 1

A failed turn (an error status, an error event, a stream without answer text, a transport error)
is a failed benchmark: it is counted and printed, the level goes on with the next conversation,
and the run exits with status 1 after the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from agents import Runner  # noqa: E402
from chatkit.agents import simple_to_agent_input, stream_agent_response  # noqa: E402
from chatkit.server import ChatKitServer, StreamingResult  # noqa: E402
from chatkit.types import ChatKitReq, ThreadMetadata, ThreadStreamEvent, UserMessageItem  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402

from bench._memory_store import MemoryStore  # noqa: E402
from bench._pyspy import PySpy, PySpyError, summarize  # noqa: E402
from chatkit_server import build_assistants  # noqa: E402
from docsdesk.assistant.search_tool import OFFLINE_TOP_PAGE_SECTIONS, DocsAgentContext  # noqa: E402
from docsdesk.core.context import RequestContext  # noqa: E402
from docsdesk.core.database import Database, open_database  # noqa: E402
from docsdesk.core.settings import Settings  # noqa: E402
from rag.ingest import ingest  # noqa: E402
from rag.search import DocsSearch  # noqa: E402

# The chatkit-python docs beside the checkout; DOCSDESK_BENCH_CORPUS when they are elsewhere
# (a git worktree one level deeper).
CORPUS = Path(os.environ.get("DOCSDESK_BENCH_CORPUS") or REPO.parent / "shared" / "corpus" / "chatkit-python")
BASE_URL = "https://openai.github.io/chatkit-python/"
COLLECTION = "bench-turns-chatkit"
QUESTIONS = Path(__file__).resolve().parent / "questions" / "project-chatkit.tsv"

DEFAULT_LEVELS = (1, 8, 32, 64)
DEFAULT_TURNS = {1: 200, 8: 400, 32: 800, 64: 1280}  # per level; enough samples for a stable p95
WARMUP_TURNS = 60
HISTORY_ITEMS = 50  # the floor's history window (docsdesk pages its history 50 at a time)
UNLIMITED = "1000000/minute"
SERVER_START_SECONDS = 60.0

TARGET_RATIO = 1.2  # ours per-turn ms / floor per-turn ms at c=1 and c=8 (issue 17)
TARGET_TURNS_PER_SECOND = 80.0  # at 32 concurrent conversations
TARGET_TURNS_AT = 32
TARGET_FIRST_BYTE_P95_MS = 20.0

DELTA_MARK = b'"assistant_message.content_part.text_delta"'
ERROR_MARK = b'"type":"error"'


async def start_server(port: int, env: dict[str, str], log_path: Path) -> asyncio.subprocess.Process:
    """`uvicorn app:create_app` (one worker) in its own process, ready once /readyz is 200;
    BenchError with the end of its log if it exits or is not ready in time."""

    def tail() -> str:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])

    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "uvicorn",
            "app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            # As `docsdesk serve`: idle connections last DOCSDESK_HTTP_KEEP_ALIVE_SECONDS (75 s).
            # uvicorn's own default, 5 s, equals httpx's keep-alive expiry: a pooled connection
            # reused as the server's timer closes it fails with a ReadError, and under load the
            # client marks a connection idle late. With the server's timeout longer than the
            # client's, the client always drops an idle connection first.
            "--timeout-keep-alive",
            str(Settings(_env_file=None).http_keep_alive_seconds),
            "--log-level",
            "warning",
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
    deadline = time.monotonic() + SERVER_START_SECONDS
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise BenchError(f"the server exited with {process.returncode}:\n{tail()}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.terminate()
    raise BenchError(f"the server was not ready within {SERVER_START_SECONDS:.0f}s:\n{tail()}")


class BenchError(RuntimeError):
    """The benchmark cannot go on; the message says why."""


# --- measurements -----------------------------------------------------------------------


@dataclass
class TurnSample:
    total: float  # seconds, request sent -> stream closed
    first_byte: float  # seconds to the first byte of the SSE body
    first_delta: float  # seconds to the first assistant text delta


@dataclass
class LevelResult:
    name: str
    concurrency: int
    wall: float
    samples: list[TurnSample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one reason per failed turn
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process group

    @property
    def turns_per_second(self) -> float:
        return len(self.samples) / self.wall

    @property
    def mean_ms(self) -> float:
        return 1000 * statistics.fmean(s.total for s in self.samples)

    def pct_ms(self, attr: str, pct: float) -> float:
        """The `pct` percentile (nearest rank) of one timing, in ms."""
        values = sorted(getattr(s, attr) for s in self.samples)
        return 1000 * values[max(0, math.ceil(pct / 100 * len(values)) - 1)]


def check_stream(body: bytes, what: str) -> None:
    """A turn's SSE body must stream answer text and carry no error event."""
    if ERROR_MARK in body:
        raise BenchError(f"{what}: the stream carried an error event: {body[-300:]!r}")
    if DELTA_MARK not in body:
        raise BenchError(f"{what}: the stream has no assistant text delta: {body[-300:]!r}")


def created_thread_id(body: bytes) -> str:
    """The thread id from the `thread.created` event that opens a threads.create stream."""
    first = body.split(b"\n\n", 1)[0]
    if not first.startswith(b"data: "):
        raise BenchError(f"threads.create: unexpected first event {first[:200]!r}")
    event = json.loads(first[len(b"data: ") :])
    if event.get("type") != "thread.created":
        raise BenchError(f"threads.create: first event is {event.get('type')!r}, not thread.created")
    return event["thread"]["id"]


async def timed_stream(chunks: AsyncIterator[bytes], started: float) -> tuple[TurnSample, bytes]:
    """Read a whole SSE stream, timing its first byte and its first text delta."""
    body = bytearray()
    first_byte = first_delta = None
    async for chunk in chunks:
        now = time.perf_counter()
        if first_byte is None and chunk:
            first_byte = now - started
        body += chunk
        if first_delta is None and DELTA_MARK in body[-(len(chunk) + len(DELTA_MARK)) :]:
            first_delta = now - started
    total = time.perf_counter() - started
    if first_byte is None or first_delta is None:
        what = "any byte" if first_byte is None else "a text delta"
        error = body.rfind(ERROR_MARK)
        said = body[error - 6 : error + 200] if error >= 0 else body[-200:]
        raise BenchError(f"stream ended without {what}: {bytes(said)!r}")
    return TurnSample(total, first_byte, first_delta), bytes(body)


def turn_request(thread_id: str | None, question: str) -> bytes:
    """threads.create for a conversation's first turn, threads.add_user_message after."""
    user_input = {
        "content": [{"type": "input_text", "text": question}],
        "attachments": [],
        "inference_options": {},
    }
    if thread_id is None:
        return json.dumps({"type": "threads.create", "params": {"input": user_input}}).encode()
    return json.dumps(
        {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input}}
    ).encode()


class Conversation:
    """One conversation: a thread created by its first turn, continued by the next ones."""

    def __init__(self, send: Callable[[bytes], Awaitable[tuple[TurnSample, bytes]]]) -> None:
        self._send = send
        self.thread_id: str | None = None

    async def turn(self, question: str) -> TurnSample:
        what = "threads.create" if self.thread_id is None else "threads.add_user_message"
        sample, body = await self._send(turn_request(self.thread_id, question))
        check_stream(body, what)
        if self.thread_id is None:
            self.thread_id = created_thread_id(body)
        return sample


class Driver(Protocol):
    """How the load generator reaches one implementation."""

    name: str

    async def conversations(self, count: int) -> list[Conversation]:
        """`count` fresh conversations, each as a different user (made before timing starts)."""
        ...


# --- ours: the real app over HTTP ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat fields after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (Linux /proc)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(pgdata: Path) -> float:
    """CPU time of an embedded PostgreSQL: the postmaster, its live children (backends,
    workers) and its reaped ones."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    fields = _stat(postmaster)
    ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                child = _stat(entry.name)
            except OSError:  # exited meanwhile
                continue
            if int(child[1]) == postmaster:
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class AppServer:
    """`uvicorn app:create_app --factory` (1 worker) in its own process, on the given database."""

    def __init__(
        self, data_dir: Path, database_url: str, record_turns: bool = True, config: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.record_turns = record_turns
        self.config = config  # a docsdesk.toml (--assistants)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.process: asyncio.subprocess.Process | None = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCSDESK_")}
        env.pop("OPENAI_API_KEY", None)
        env.update(
            DATABASE_URL=self.database_url,
            DOCSDESK_DATA_DIR=str(self.data_dir),
            DOCSDESK_COLLECTION=COLLECTION,
            DOCSDESK_MODEL="offline",
            DOCSDESK_EMBEDDINGS="none",
            DOCSDESK_AUTH_MODE="anonymous",
            DOCSDESK_RATE_LIMIT_TURNS=UNLIMITED,
            DOCSDESK_RATE_LIMIT_READS=UNLIMITED,
            DOCSDESK_RATE_LIMIT_SESSIONS=UNLIMITED,
            DOCSDESK_LOG_LEVEL="WARNING",
            DOCSDESK_RECORD_TURNS="1" if self.record_turns else "0",
        )
        if self.config is not None:
            env["DOCSDESK_CONFIG"] = str(self.config)
        return env

    async def start(self) -> None:
        self.process = await start_server(self.port, self.environment(), self.log_path)

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not started"
        return self.process.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


class HttpDriver:
    name = "ours (HTTP, Postgres)"

    def __init__(self, server: AppServer, max_concurrency: int, path: str = "/chatkit") -> None:
        self.server = server
        self.path = path
        self.http = httpx.AsyncClient(
            base_url=server.url,
            timeout=60,
            limits=httpx.Limits(
                max_connections=max_concurrency + 8, max_keepalive_connections=max_concurrency + 8
            ),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def conversations(self, count: int) -> list[Conversation]:
        async def one(_: int) -> Conversation:
            response = await self.http.post("/session")
            if response.status_code != 200:
                raise BenchError(f"POST /session: {response.status_code} {response.text[:300]}")
            headers = {
                "Authorization": f"Bearer {response.json()['token']}",
                "Content-Type": "application/json",
            }
            return Conversation(lambda body: self._send(body, headers))

        return list(await asyncio.gather(*(one(i) for i in range(count))))

    async def _send(self, body: bytes, headers: dict[str, str]) -> tuple[TurnSample, bytes]:
        started = time.perf_counter()
        async with self.http.stream("POST", self.path, content=body, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                raise BenchError(f"POST {self.path}: {response.status_code} {response.text[:300]}")
            return await timed_stream(response.aiter_raw(), started)


# --- the floor: the SDK in-process, in-memory store -------------------------------------------


class FloorServer(ChatKitServer[RequestContext]):
    """The SDK's minimal documented pattern: history -> Agent -> stream_agent_response,
    with docsdesk's offline model and `search_docs` tool."""

    def __init__(self, store: MemoryStore, search: DocsSearch, settings: Settings) -> None:
        super().__init__(store)
        self.search = search
        self.settings = settings
        # The same assistant docsdesk answers with (agent, tools, offline model; building the
        # model also turns the Agents SDK's trace export off, as docsdesk does).
        self.assistant = build_assistants(settings, search).get("default")

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: RequestContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        page = await self.store.load_thread_items(thread.id, None, HISTORY_ITEMS, "desc", context)
        input_items = await simple_to_agent_input(list(reversed(page.data)))
        agent_context = DocsAgentContext(
            thread=thread,
            store=self.store,
            request_context=context,
            search=self.search,
            collection=self.settings.collection,
            results_per_search=self.settings.search_results,
            top_page_sections=OFFLINE_TOP_PAGE_SECTIONS,  # as docsdesk's offline model searches
        )
        result = Runner.run_streamed(
            self.assistant.agent,
            input_items,
            context=agent_context,
            max_turns=self.assistant.limits.max_agent_turns,
        )
        async for event in stream_agent_response(agent_context, result):
            yield event


class FloorDriver:
    name = "floor (SDK in-process, memory)"

    def __init__(self, search: DocsSearch, settings: Settings) -> None:
        self.server = FloorServer(MemoryStore(), search, settings)
        self._users = 0

    async def conversations(self, count: int) -> list[Conversation]:
        made = []
        for _ in range(count):
            self._users += 1
            ctx_user = f"floor-user-{self._users}"
            made.append(Conversation(lambda body, user=ctx_user: self._send(body, user)))
        return made

    async def _send(self, body: bytes, user_id: str) -> tuple[TurnSample, bytes]:
        started = time.perf_counter()
        result = await self.server.process(body, RequestContext(user_id=user_id))
        if not isinstance(result, StreamingResult):
            raise BenchError("the floor server did not stream a turn")
        return await timed_stream(aiter(result), started)


# --- the load generator -------------------------------------------------------------------


async def run_level(
    driver: Driver,
    concurrency: int,
    turns: int,
    per_conversation: int,
    questions: list[str],
    meters: dict[str, Callable[[], float]] | None = None,
) -> LevelResult:
    """`turns` turns by `concurrency` workers, each running conversations of
    `per_conversation` turns back to back; `meters` read CPU seconds before and after."""
    conversations = await driver.conversations(math.ceil(turns / per_conversation) + concurrency)
    remaining = turns
    asked = 0
    result = LevelResult(driver.name, concurrency, wall=0.0)

    def claim() -> int | None:
        nonlocal remaining, asked
        if remaining == 0:
            return None
        remaining -= 1
        asked += 1
        return asked

    async def worker() -> None:
        while conversations:
            conversation = conversations.pop()
            for _ in range(per_conversation):
                number = claim()
                if number is None:
                    return
                try:
                    sample = await conversation.turn(questions[number % len(questions)])
                except (BenchError, httpx.HTTPError, OSError) as exc:
                    # A failed turn is recorded, never skipped; this conversation is abandoned
                    # (its thread may not exist) and the worker goes on with the next one.
                    result.failures.append(f"{type(exc).__name__}: {exc}"[:400])
                    break
                result.samples.append(sample)

    meters = meters or {}
    before = {name: read() for name, read in meters.items()}
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall = time.perf_counter() - started
    result.cpu = {name: read() - before[name] for name, read in meters.items()}
    if len(result.samples) + len(result.failures) != turns:
        raise BenchError(
            f"{driver.name} at c={concurrency}: {len(result.samples) + len(result.failures)} of {turns} turns ran"
        )
    if not result.samples:
        raise BenchError(f"{driver.name} at c={concurrency}: every turn failed, e.g. {result.failures[0]}")
    return result


# --- report -------------------------------------------------------------------------------


def print_failures(pairs: list[tuple[LevelResult, LevelResult]]) -> int:
    """List every level's failed turns (grouped by reason); return how many failed."""
    total = 0
    for ours, floor in pairs:
        for r in (ours, floor):
            if not r.failures:
                continue
            total += len(r.failures)
            print(
                f"FAILED TURNS: {len(r.failures)} of {len(r.samples) + len(r.failures)} at c={r.concurrency}, {r.name}:"
            )
            reasons: dict[str, int] = {}
            for reason in r.failures:
                reasons[reason] = reasons.get(reason, 0) + 1
            for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
                print(f"  {count:>5} x {reason}")
    print(f"failed turns: {total}" + ("" if total else " (every turn of every level completed)"))
    return total


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def sdk_request_adapter_ms(rounds: int = 20) -> float:
    """Median ms for the `TypeAdapter(ChatKitReq)` that `ChatKitServer.process()` builds on
    every request (docsdesk's app parses with one module-level adapter instead)."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        TypeAdapter(ChatKitReq)
        timings.append(time.perf_counter() - started)
    return 1000 * statistics.median(timings)


def merge(results: list[LevelResult]) -> LevelResult:
    """One level's rounds as one result: all samples, summed wall and CPU time."""
    first = results[0]
    merged = LevelResult(first.name, first.concurrency, wall=sum(r.wall for r in results))
    for r in results:
        merged.samples += r.samples
        merged.failures += r.failures
        for name, seconds in r.cpu.items():
            merged.cpu[name] = merged.cpu.get(name, 0.0) + seconds
    return merged


async def alternate(
    ours_driver: Driver,
    floor_driver: Driver,
    level: int,
    turns: int,
    args: argparse.Namespace,
    questions: list[str],
    meters: tuple[dict[str, Callable[[], float]], dict[str, Callable[[], float]]],
) -> tuple[LevelResult, LevelResult, list[float]]:
    """Run one level as rounds alternating ours/floor, floor/ours, ... so that load drifting on
    the shared machine hits both alike; returns the merged results and each round's ratio."""
    per_round = max(level, turns // args.rounds)
    runs: dict[str, list[LevelResult]] = {"ours": [], "floor": []}
    drivers = {"ours": (ours_driver, meters[0]), "floor": (floor_driver, meters[1])}
    for round_ in range(args.rounds):
        for name in ("ours", "floor") if round_ % 2 == 0 else ("floor", "ours"):
            driver, meter = drivers[name]
            runs[name].append(
                await run_level(driver, level, per_round, args.per_conversation, questions, meter)
            )
    ratios = [o.mean_ms / f.mean_ms for o, f in zip(runs["ours"], runs["floor"], strict=True)]
    return merge(runs["ours"]), merge(runs["floor"]), ratios


def print_report(
    pairs: list[tuple[LevelResult, LevelResult]], adapter_ms: float, spreads: list[list[float]]
) -> None:
    header = (
        f"{'c':>3}  {'implementation':<31} {'turns':>5} {'failed':>6} {'turns/s':>8} {'mean ms':>8} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'1st byte p50/p95':>17} {'1st delta p50/p95':>18}  cpu ms/turn"
    )
    print()
    print(header)
    print("-" * (len(header) + 24))
    for ours, floor in pairs:
        for r in (ours, floor):
            cpu = " ".join(f"{name} {1000 * seconds / len(r.samples):.1f}" for name, seconds in r.cpu.items())
            print(
                f"{r.concurrency:>3}  {r.name:<31} {len(r.samples):>5} {len(r.failures):>6} {r.turns_per_second:>8.1f} "
                f"{r.mean_ms:>8.1f} {r.pct_ms('total', 50):>7.1f} {r.pct_ms('total', 95):>7.1f} "
                f"{r.pct_ms('first_byte', 50):>8.1f}/{r.pct_ms('first_byte', 95):<8.1f} "
                f"{r.pct_ms('first_delta', 50):>8.1f}/{r.pct_ms('first_delta', 95):<9.1f}  {cpu}"
            )
    print()
    print("Ratios (ours vs floor) and targets:")
    for (ours, floor), spread in zip(pairs, spreads, strict=True):
        per_turn = ours.mean_ms / floor.mean_ms
        throughput = floor.turns_per_second / ours.turns_per_second
        first_byte = ours.pct_ms("first_byte", 95)
        line = (
            f"  c={ours.concurrency:<3} per-turn ms ours/floor {per_turn:5.2f}, turns/s floor/ours {throughput:5.2f}"
            f" [target <= {TARGET_RATIO}: {verdict(per_turn <= TARGET_RATIO)}]"
            f" (rounds {min(spread):.2f}-{max(spread):.2f}, median {statistics.median(spread):.2f});"
            f" p95 first byte {first_byte:.1f} ms [target <= {TARGET_FIRST_BYTE_P95_MS:.0f}: "
            f"{verdict(first_byte <= TARGET_FIRST_BYTE_P95_MS)}]"
        )
        if ours.concurrency == TARGET_TURNS_AT:
            line += (
                f"; {ours.turns_per_second:.1f} turns/s "
                f"[target >= {TARGET_TURNS_PER_SECOND:.0f}: {verdict(ours.turns_per_second >= TARGET_TURNS_PER_SECOND)}]"
            )
        print(line)
    print()
    print(
        f"Notes: {os.cpu_count()} CPU core(s), shared by the load generator (this process: 'client'), the "
        "server process ('server') and PostgreSQL ('db', embedded only), plus anything else running "
        f"(load average now {os.getloadavg()[0]:.1f}). cpu ms/turn = each one's CPU time / turns. 'ours' "
        "pays for HTTP on both ends, the floor for neither; the floor's 'client' is the whole in-process SDK.\n"
        f"The floor goes through ChatKitServer.process(), which builds TypeAdapter(ChatKitReq) per request: "
        f"{adapter_ms:.1f} ms each here, included in the floor's figures (docsdesk parses each request once, with one shared adapter)."
    )


# --- main ---------------------------------------------------------------------------------


def load_questions() -> list[str]:
    """The ChatKit questions of the search-quality set: realistic reader questions."""
    from rag.evaluate import QuestionSetError
    from rag.evaluate import load_questions as read_question_set

    try:
        return [case.question for case in read_question_set(QUESTIONS)]
    except QuestionSetError as exc:
        raise BenchError(str(exc)) from exc


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--levels", default=",".join(map(str, DEFAULT_LEVELS)), help="concurrency levels, e.g. 1,8,32"
    )
    parser.add_argument(
        "--turns", type=int, help="turns per level (default: 200 / 400 / 800 at c=1 / 8 / 32)"
    )
    parser.add_argument("--per-conversation", type=int, default=4, help="turns per conversation (default 4)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating ours/floor rounds per level (default 4)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="afterwards, sample the server with py-spy during one more run at the top level; "
        "write the raw (collapsed) stacks to FILE and print a summary",
    )
    parser.add_argument(
        "--recording-cost",
        action="store_true",
        help="instead: the cost of recording turns (insights), ours with DOCSDESK_RECORD_TURNS on vs off",
    )
    parser.add_argument(
        "--assistants",
        type=int,
        metavar="N",
        help="instead: a turn's cost with N assistants configured (docsdesk.toml) against one",
    )
    args = parser.parse_args(argv)
    if args.assistants is not None and args.assistants < 2:
        parser.error("--assistants must be >= 2")
    try:
        args.levels = [int(part) for part in args.levels.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--levels must be comma-separated integers, not {args.levels!r}")
    if not args.levels or min(args.levels) < 1:
        parser.error("--levels needs at least one level, each >= 1")
    if args.turns is not None and args.turns < 1:
        parser.error("--turns must be >= 1")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.per_conversation < 1:
        parser.error("--per-conversation must be >= 1")
    return args


def turns_for(level: int, override: int | None) -> int:
    if override is not None:
        return override
    return DEFAULT_TURNS.get(level, max(200, 25 * level))


async def prepare(data_dir: Path) -> tuple[Database, Settings]:
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=os.environ.get("DATABASE_URL"),
        model="offline",
        embeddings="none",
        collection=COLLECTION,
    )
    print(
        f"database: {'DATABASE_URL' if settings.database_url else 'embedded PostgreSQL in ' + str(data_dir)}"
    )
    db = await open_database(settings)
    summary = await ingest(db.engine, [CORPUS], base_url=BASE_URL, collection=COLLECTION, url_style="mkdocs")
    print(
        f"ingested {CORPUS.name} into {COLLECTION!r}: {summary.added + summary.unchanged} pages, {summary.chunks} chunks"
    )
    return db, settings


async def profile_server(
    server: AppServer,
    driver: HttpDriver,
    level: int,
    turns: int,
    per_conversation: int,
    questions: list[str],
    output: Path,
) -> None:
    spy = PySpy(server.pid, output)
    await spy.start()
    try:
        await run_level(driver, level, turns, per_conversation, questions)
    finally:
        await spy.stop()
    print(f"\nServer profile at c={level} ({turns} turns; raw stacks in {output}):")
    print(summarize(output, REPO, spy.seconds))


async def direct_recording_cost(db: Database, turn_ms: float, records: int = 5000) -> None:
    """The work recording adds, measured alone (it is too small for the turn timings on a
    noisy machine): building and queueing a record, and writing it in the writer's batches."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from docsdesk.insights.turns import SearchRecord, TurnRecord, TurnRecorder

    thread_id = "thr_bench_recording"
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO threads (id, tenant_id, user_id, data) VALUES (:t, '', 'bench', '{}'::jsonb) "
                "ON CONFLICT (id) DO NOTHING"
            ),
            {"t": thread_id},
        )
    recorder = TurnRecorder(db.engine)  # not started: flush() writes in the writer's batches
    started = time.perf_counter()
    for i in range(records):
        recorder.record(
            TurnRecord(
                thread_id=thread_id,
                question_item_id=f"msg_{i}",
                tenant_id="",
                user_hash="0123456789abcdef",
                collection=COLLECTION,
                question=f"How do I stream progress updates from a tool, take {i}?",
                outcome="answered",
                model="offline",
                created_at=datetime.now(UTC),
                answer_item_id=f"msg_a{i}",
                answer="An answer of a few sentences quoting the documentation [1]. " * 6,
                page_url="https://openai.github.io/chatkit-python/guides/",
                page_title="Guides",
                searches=[SearchRecord("stream progress updates", 5, 0.032)],
                cited_urls=[BASE_URL + "guides/progress/#updates"],
                first_text_ms=40,
                duration_ms=80,
            )
        )
    queued = time.perf_counter() - started
    started = time.perf_counter()
    await recorder.flush()
    written = time.perf_counter() - started
    per_turn = 1000 * (queued + written) / records
    print(
        f"\nrecording alone: queue {1e6 * queued / records:.0f} us + batch write {1000 * written / records:.3f} ms "
        f"per turn = {per_turn:.3f} ms, {100 * per_turn / turn_ms:.2f}% of a {turn_ms:.0f} ms turn "
        f"[target < 5%: {verdict(per_turn / turn_ms < 0.05)}] (the write runs off the turn, in the background)"
    )
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM threads WHERE id = :t"), {"t": thread_id})


async def recording_cost(
    args: argparse.Namespace, db: Database, data_dir: Path, questions: list[str]
) -> None:
    """Two servers, turn recording on and off, run alternately (off, on, off, on) at each
    level so load changes on the shared machine hit both alike; prints the per-turn cost."""
    (data_dir / "off").mkdir()
    servers = {
        True: AppServer(data_dir, db.url),
        False: AppServer(data_dir / "off", db.url, record_turns=False),
    }
    drivers: dict[bool, HttpDriver] = {}
    try:
        for recording, server in servers.items():
            await server.start()
            drivers[recording] = HttpDriver(server, max(args.levels))
            await run_level(
                drivers[recording], min(8, max(args.levels)), WARMUP_TURNS, args.per_conversation, questions
            )
        print(
            f"warmed up ({WARMUP_TURNS} turns each); recording on: {servers[True].url}, off: {servers[False].url}"
        )
        print(
            f"\n{'c':>3}  {'recording':<9} {'turns':>6} {'turns/s':>8} {'mean ms':>8} {'p95 ms':>7}  server cpu ms/turn"
        )
        rounds = 6
        baseline_ms = None  # a turn without recording at the lowest level: the honest denominator
        for level in args.levels:
            turns = turns_for(level, args.turns)
            results: dict[bool, list[LevelResult]] = {True: [], False: []}
            for round_ in range(rounds):  # off/on, on/off, ...: drifting load hits both alike
                for recording in (False, True) if round_ % 2 == 0 else (True, False):
                    meter = {"server": servers[recording].cpu_seconds}
                    results[recording].append(
                        await run_level(
                            drivers[recording],
                            level,
                            max(level, turns // rounds),
                            args.per_conversation,
                            questions,
                            meter,
                        )
                    )
            merged = {}
            for recording in (False, True):
                samples = [s for r in results[recording] for s in r.samples]
                wall = sum(r.wall for r in results[recording])
                cpu = sum(r.cpu["server"] for r in results[recording])
                merged[recording] = LevelResult("", level, wall=wall, samples=samples, cpu={"server": cpu})
                print(
                    f"{level:>3}  {'on' if recording else 'off':<9} {len(samples):>6} {len(samples) / wall:>8.1f} "
                    f"{merged[recording].mean_ms:>8.1f} {merged[recording].pct_ms('total', 95):>7.1f}  "
                    f"{1000 * cpu / len(samples):.2f}"
                )
            on, off = merged[True], merged[False]
            baseline_ms = baseline_ms or off.mean_ms
            cost = on.mean_ms / off.mean_ms - 1
            cpu_cost = on.cpu["server"] / off.cpu["server"] - 1
            print(
                f"     recording cost at c={level}: per-turn ms {100 * cost:+.1f}%, server CPU {100 * cpu_cost:+.1f}% "
                f"[target < 5%: {verdict(cost < 0.05)}]"
            )
        await direct_recording_cost(db, baseline_ms)
        print(
            f"\nload average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} core(s): a shared machine; "
            "each level ran off/on/off/on to spread the noise"
        )
    finally:
        for driver in drivers.values():
            await driver.aclose()
        for server in servers.values():
            await server.stop()


def assistants_config(path: Path, count: int) -> Path:
    """A docsdesk.toml with `count` assistants over the benchmark's collection, each with its
    own instructions, greeting and starter prompts (as a deployment would write them)."""
    tables = [
        f'[assistants.a{i:02d}]\ntitle = "Assistant {i}"\ncollections = ["{COLLECTION}"]\n'
        f'instructions = """You are documentation assistant number {i}."""\n'
        f'greeting = "Ask assistant {i}"\nstarter_prompts = ["How do I start?", "What is a thread?"]\n'
        f'origins = ["https://site{i}.example"]\n'
        for i in range(count)
    ]
    path.write_text("\n".join(tables))
    return path


async def assistants_cost(
    args: argparse.Namespace, db: Database, data_dir: Path, questions: list[str]
) -> None:
    """Two servers, one assistant configured and `args.assistants`, run alternately at each
    level; turns go to the last assistant's /a/NAME/chatkit. Prints the per-turn cost ratio."""
    many = args.assistants
    servers: dict[int, AppServer] = {}
    drivers: dict[int, HttpDriver] = {}
    try:
        for count in (1, many):
            (data_dir / f"a{count}").mkdir()
            config = assistants_config(data_dir / f"a{count}" / "docsdesk.toml", count)
            servers[count] = AppServer(data_dir / f"a{count}", db.url, config=config)
            await servers[count].start()
            drivers[count] = HttpDriver(servers[count], max(args.levels), f"/a/a{count - 1:02d}/chatkit")
            await run_level(
                drivers[count], min(8, max(args.levels)), WARMUP_TURNS, args.per_conversation, questions
            )
        print(
            f"warmed up ({WARMUP_TURNS} turns each); 1 assistant: {servers[1].url}, {many}: {servers[many].url}"
        )
        print(
            f"\n{'c':>3}  {'assistants':>10} {'turns':>6} {'turns/s':>8} {'mean ms':>8} {'p95 ms':>7}  server cpu ms/turn"
        )
        for level in args.levels:
            merged = await alternate_servers(
                drivers, servers, level, turns_for(level, args.turns), args, questions
            )
            one, lots = merged[1], merged[many]
            ratio, cpu_ratio = lots.mean_ms / one.mean_ms, lots.cpu["server"] / one.cpu["server"]
            print(
                f"     c={level}: {many} assistants / 1: per-turn ms {ratio:.3f}x, server CPU per turn "
                f"{cpu_ratio * len(one.samples) / len(lots.samples):.3f}x [target <= 1.05x: {verdict(ratio <= 1.05)}]"
            )
        print(f"\nload average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} core(s)")
    finally:
        for driver in drivers.values():
            await driver.aclose()
        for server in servers.values():
            await server.stop()


async def alternate_servers(
    drivers: dict, servers: dict, level: int, turns: int, args: argparse.Namespace, questions: list[str]
) -> dict[int, LevelResult]:
    """Rounds alternating between the servers (A B, B A, ...), merged per server."""
    rounds, keys = 2 * max(1, args.rounds), list(drivers)
    results: dict[int, list[LevelResult]] = {key: [] for key in keys}
    for round_ in range(rounds):
        for key in keys if round_ % 2 == 0 else keys[::-1]:
            meter = {"server": servers[key].cpu_seconds}
            results[key].append(
                await run_level(
                    drivers[key], level, max(level, turns // rounds), args.per_conversation, questions, meter
                )
            )
    merged = {}
    for key in keys:
        samples = [s for r in results[key] for s in r.samples]
        wall, cpu = sum(r.wall for r in results[key]), sum(r.cpu["server"] for r in results[key])
        merged[key] = LevelResult("", level, wall=wall, samples=samples, cpu={"server": cpu})
        failures = sum(len(r.failures) for r in results[key])
        if failures:
            raise BenchError(f"{failures} turn(s) failed with {key} assistant(s)")
        print(
            f"{level:>3}  {key:>10} {len(samples):>6} {len(samples) / wall:>8.1f} {merged[key].mean_ms:>8.1f} "
            f"{merged[key].pct_ms('total', 95):>7.1f}  {1000 * cpu / len(samples):.2f}"
        )
    return merged


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    questions = load_questions()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} core(s)")
    with tempfile.TemporaryDirectory(prefix="docsdesk-bench-turns-") as tmp:
        data_dir = Path(tmp)
        db, settings = await prepare(data_dir)
        if args.recording_cost or args.assistants:
            try:
                if args.assistants:
                    await assistants_cost(args, db, data_dir, questions)
                else:
                    await recording_cost(args, db, data_dir, questions)
            finally:
                await db.close()
            return
        server = AppServer(data_dir, db.url)
        search = DocsSearch(db.engine)
        await search.startup()
        http_driver = None
        try:
            await server.start()
            print(f"server: {server.url} (pid {server.pid}); floor: in-process")
            http_driver = HttpDriver(server, max(args.levels))
            floor_driver = FloorDriver(search, settings)
            client = {"client": time.process_time}
            db_meter = {"db": lambda: postgres_cpu_seconds(db.embedded.pgdata)} if db.embedded else {}
            warm_failures = 0
            for driver in (http_driver, floor_driver):
                warm = await run_level(
                    driver, min(8, max(args.levels)), WARMUP_TURNS, args.per_conversation, questions
                )
                warm_failures += len(warm.failures)
                for reason in warm.failures:
                    print(f"FAILED warm-up turn ({driver.name}): {reason}")
            print(f"warmed up ({WARMUP_TURNS} turns each, {warm_failures} failed)")
            pairs, spreads = [], []
            for level in args.levels:
                ours, floor, spread = await alternate(
                    http_driver,
                    floor_driver,
                    level,
                    turns_for(level, args.turns),
                    args,
                    questions,
                    (client | {"server": server.cpu_seconds} | db_meter, client | db_meter),
                )
                print(
                    f"c={level}: ours {ours.turns_per_second:.1f} turns/s, floor {floor.turns_per_second:.1f} turns/s"
                    f" ({len(ours.samples)} turns each in {args.rounds} alternating rounds; failed: ours "
                    f"{len(ours.failures)}, floor {len(floor.failures)})"
                )
                pairs.append((ours, floor))
                spreads.append(spread)
            print_report(pairs, sdk_request_adapter_ms(), spreads)
            failed = print_failures(pairs) + warm_failures
            if args.profile is not None:
                level = max(args.levels)
                await profile_server(
                    server,
                    http_driver,
                    level,
                    min(turns_for(level, args.turns), 400),
                    args.per_conversation,
                    questions,
                    args.profile,
                )
        finally:
            if http_driver is not None:
                await http_driver.aclose()
            await server.stop()
            await db.close()
    if failed:
        raise BenchError(f"{failed} turn(s) failed: a failed turn is a failed benchmark")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (BenchError, PySpyError) as exc:
        print(f"bench/turns.py: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
