"""PDF text extraction in a killable, bounded child process (issue 23, item 1).

pypdf can spend minutes of CPU and hundreds of MB on a small hostile PDF (200 pages sharing
one expensive content stream). A thread cannot be stopped, so each extraction runs in its
own process (`pdf_child.py`) that limits its own CPU time and address space and runs at a
lower priority; the parent gives it a wall-clock deadline (queueing included) and kills it
when the deadline passes or the turn is cancelled. A semaphore keeps at most `concurrency`
children at once, so hostile uploads cannot take every core or the default thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

CHILD = Path(__file__).with_name("pdf_child.py")
MIB = 1024 * 1024


class PdfFailed(Exception):
    """The text could not be extracted: `reason` is a short word for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PdfText:
    text: str
    pages: int
    truncated: bool


class PdfExtractor:
    """Bounded extraction: at most `concurrency` children, each within its limits."""

    def __init__(
        self,
        *,
        concurrency: int = 2,
        deadline_seconds: float = 15.0,
        cpu_seconds: int = 5,
        memory_bytes: int = 256 * MIB,
        max_pages: int = 100,
    ) -> None:
        self.deadline_seconds = deadline_seconds
        self.cpu_seconds = cpu_seconds
        self.memory_bytes = memory_bytes
        self.max_pages = max_pages
        self._slots = asyncio.Semaphore(concurrency)

    async def extract(self, data: bytes, limit: int) -> PdfText:
        """The text of `data`, or PdfFailed("deadline" | "killed" | an exception name)."""
        try:
            async with asyncio.timeout(self.deadline_seconds):
                async with self._slots:
                    result = await self._run(data, limit)
        except TimeoutError:
            raise PdfFailed("deadline") from None
        if "error" in result:
            raise PdfFailed(str(result["error"]))
        return PdfText(str(result["text"]), int(result["pages"]), bool(result["truncated"]))

    async def _run(self, data: bytes, limit: int) -> dict:
        args = (limit, self.max_pages, self.cpu_seconds, self.memory_bytes)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            str(CHILD),
            *(str(value) for value in args),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await process.communicate(data)
        finally:
            if process.returncode is None:  # deadline or cancellation: stop it now
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        code = process.returncode
        if code != 0:
            raise PdfFailed("killed" if code is None or code < 0 else f"exit {code}")
        try:
            return json.loads(out)
        except ValueError:
            raise PdfFailed("no result") from None
