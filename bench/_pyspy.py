"""Sampling another Python process with py-spy, and a short text summary of where it spent
its time (for bench/turns.py --profile).

Samples are taken only while a thread holds the GIL (``--gil``), so shares approximate
CPU time in Python, not time spent waiting for the database or the network.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import time
from collections import Counter
from pathlib import Path

RATE = 100  # samples per second

# Third-party frames worth naming on their own: (label, substring of the frame).
HOT_SPOTS = (
    ("SQLAlchemy: statement compile + cache key", "_compile_w_cache (sqlalchemy/"),
    ("SQLAlchemy: pool checkout pre-ping", "_async_ping (sqlalchemy/"),
    ("asyncpg: BEGIN (Transaction.start)", "Transaction.start (asyncpg/"),
    ("asyncpg: statement execute", "Connection._do_execute (asyncpg/"),
    ("ChatKit SDK: event serialization", "ChatKitServer._serialize (chatkit/"),
    ("ChatKit SDK: store writes per event", "ChatKitServer._process_events (chatkit/"),
    ("Agents SDK: run loop", "run_loop (agents/"),
    ("Agents SDK: tool invocation", "_invoke_function_tool_with_metadata (agents/"),
    ("asyncio.wait_for", "wait_for (asyncio/"),
    ("Starlette: StreamingResponse", "StreamingResponse.stream_response (starlette/"),
)


# Who asked for the work: a sample belongs to the deepest frame matching one of these.
FEATURES = (
    ("chatkit_store/", "store (PostgresStore, down to SQL)"),
    ("rag/search.py", "docs search (DocsSearch, down to SQL)"),
    ("docsdesk/assistant/search_tool.py", "search_docs tool"),
    ("docsdesk/http/auth.py", "auth"),
    ("ops/ratelimit.py", "rate limits"),
    ("ops/observability.py", "observability (middleware, metrics)"),
    ("ops/metrics.py", "observability (middleware, metrics)"),
    ("ops/probes.py", "observability (middleware, metrics)"),
    ("docsdesk/assistant/offline.py", "offline model"),
    ("docsdesk/assistant/stream.py", "offline model"),
    ("docsdesk/assistant/models.py", "offline model"),
    ("docsdesk/assistant/citations.py", "citations"),
    ("chatkit_server.py", "DocsDeskServer (checks, history)"),
    ("app.py", "app.py (parsing, SSE relay)"),
    ("agents/", "Agents SDK"),
    ("chatkit/", "ChatKit SDK"),
    ("uvicorn/", "HTTP (uvicorn, starlette, fastapi)"),
    ("starlette/", "HTTP (uvicorn, starlette, fastapi)"),
    ("fastapi/", "HTTP (uvicorn, starlette, fastapi)"),
    ("httptools/", "HTTP (uvicorn, starlette, fastapi)"),
)
OTHER = "event loop and other"


class PySpyError(RuntimeError):
    pass


class PySpy:
    """`py-spy record` attached to a running process until `stop()`."""

    def __init__(self, pid: int, output: Path) -> None:
        self.pid = pid
        self.output = output
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.seconds = 0.0

    async def start(self) -> None:
        exe = shutil.which("py-spy")
        if exe is None:
            raise PySpyError("--profile needs py-spy on PATH (pip install py-spy)")
        self.output.unlink(missing_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            exe,
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(RATE),
            "--gil",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(self.output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(0.5)  # attach before the load starts
        if self.process.returncode is not None:
            error = (await self.process.stderr.read()).decode(errors="replace").strip()
            raise PySpyError(f"py-spy could not attach to pid {self.pid}: {error}")
        self.started = time.perf_counter()

    async def stop(self) -> None:
        """Stop sampling; py-spy writes its output on SIGINT."""
        assert self.process is not None
        self.seconds = time.perf_counter() - self.started
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        _, stderr = await self.process.communicate()
        if not self.output.exists():
            raise PySpyError(f"py-spy wrote no profile: {stderr.decode(errors='replace').strip()}")


def _file_of(frame: str) -> str:
    """'func (path/file.py:123)' -> 'path/file.py'."""
    inside = frame[frame.rfind("(") + 1 : -1] if frame.endswith(")") else ""
    return inside.rsplit(":", 1)[0]


def _without_line(frame: str) -> str:
    """'func (path/file.py:123)' -> 'func (path/file.py)': one entry per function."""
    head, sep, _ = frame.rpartition(":")
    return f"{head})" if sep and frame.endswith(")") else frame


def _component(path: str, project_files: set[str]) -> str:
    if path in project_files or path.split("/")[0] in project_files:
        return f"docsdesk {path}"
    return path.split("/")[0] if "/" in path else f"stdlib {path}"


def _feature(frames: list[str]) -> str:
    for frame in reversed(frames):
        path = _file_of(frame)
        for prefix, label in FEATURES:
            if path.startswith(prefix):
                return label
    return OTHER


def summarize(raw: Path, project_root: Path, seconds: float, top: int = 12) -> str:
    """Where the samples of a py-spy raw (collapsed stacks) profile fall, as text."""
    project_files = {p.name for p in project_root.glob("*.py")} | {
        p.name for p in project_root.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    leaf: Counter[str] = Counter()
    features: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    spots: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        leaf[_component(_file_of(frames[-1]), project_files)] += n
        features[_feature(frames)] += n
        for function in {_without_line(frame) for frame in frames}:
            if _component(_file_of(function), project_files).startswith("docsdesk "):
                ours[function] += n
        for label, marker in HOT_SPOTS:
            if any(marker in frame for frame in frames):
                spots[label] += n
    if total == 0:
        return "profile: no samples (was the server idle?)"
    share = lambda n: f"{100 * n / total:5.1f}%"  # noqa: E731
    lines = [
        f"profile: {total} GIL-holding samples at {RATE}/s over {seconds:.1f}s "
        f"(the server's Python held the GIL ~{100 * total / (RATE * seconds):.0f}% of the time)",
        "  by feature (the deepest docsdesk module or library on the stack):",
        *(f"    {share(n)}  {name}" for name, n in features.most_common()),
        "  self time by component (leaf frame):",
        *(f"    {share(n)}  {name}" for name, n in leaf.most_common(top)),
        "  inclusive time, docsdesk functions:",
        *(f"    {share(n)}  {frame}" for frame, n in ours.most_common(top)),
        "  inclusive time, named hot spots:",
        *(f"    {share(spots[label])}  {label}" for label, _ in HOT_SPOTS),
    ]
    return "\n".join(lines)
