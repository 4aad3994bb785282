"""Database outages: recognise a failure that means "the database cannot be reached", answer it
as a 503 with Retry-After (or a retryable stream error), and log it as one short line per kind
per interval instead of a traceback per request.

`outage_kind(exc)` (docsdesk.core.outage) is the one classifier; `OutageLogFilter` (installed on
docsdesk's log handler) rewrites every log record whose exception is an outage, whoever logs it
(docsdesk, the ChatKit or Agents SDK, uvicorn), and rate-limits it.
"""

from __future__ import annotations

import logging
import threading
import time

from docsdesk.core.errors import ApiError
from docsdesk.core.outage import OUTAGE_STREAM_MESSAGE, outage_kind

__all__ = ["OutageLogFilter", "RateLimiter", "first_line", "outage_kind", "unavailable"]

RETRY_AFTER_SECONDS = 5
LOG_INTERVAL_SECONDS = 10.0
MESSAGE = "the database is unavailable; retry in a few seconds"
STREAM_MESSAGE = OUTAGE_STREAM_MESSAGE


def unavailable() -> ApiError:
    """The client-facing answer: 503 `database_unavailable` with Retry-After."""
    return ApiError(503, "database_unavailable", MESSAGE, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def first_line(exc: BaseException) -> str:
    """The innermost useful one-line reason, capped."""
    reason = exc
    seen: set[int] = set()
    while id(reason) not in seen:
        seen.add(id(reason))
        inner = getattr(reason, "orig", None) or reason.__cause__
        if inner is None:
            break
        reason = inner
    lines = str(reason).strip().splitlines()
    return (lines[0] if lines else type(reason).__name__)[:200]


class RateLimiter:
    """At most one pass per key per interval; counts what it held back."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, int]:
        """(pass?, how many were held back since the last pass)."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return False, 0
            self._last[key] = now
            return True, self._held.pop(key, 0)


class OutageLogFilter(logging.Filter):
    """On a log handler: a record carrying a database-outage exception becomes one line
    without its traceback (``... : database unavailable (kind): reason``), and only the first
    such line per kind per interval is written; the next one says how many were held back."""

    def __init__(self, limiter: RateLimiter | None = None) -> None:
        super().__init__()
        self.limiter = limiter or RateLimiter()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        kind = outage_kind(exc) if exc is not None else None
        if exc is None or kind is None:
            return True
        allowed, held = self.limiter.allow(kind)
        if not allowed:
            return False
        said = (record.getMessage().strip().splitlines() or [""])[0][:200]
        message = f"{said}: database unavailable ({kind}): {first_line(exc)}"
        if held:
            message += f" ({held} similar failures not logged in the last {self.limiter.interval:.0f} s)"
        record.msg, record.args = message, None
        record.exc_info, record.exc_text = None, None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
