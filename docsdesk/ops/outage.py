"""Database outages: recognise a failure that means "the database cannot be reached", answer it
as a 503 with Retry-After (or a retryable stream error), and log it as one short line per kind
per interval instead of a traceback per request.

`outage_kind(exc)` is the one classifier; `OutageLogFilter` (installed on docsdesk's log handler)
rewrites every log record whose exception is an outage, whoever logs it (docsdesk, the ChatKit
or Agents SDK, uvicorn), and rate-limits it.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from types import TracebackType

from docsdesk.core.errors import ApiError

RETRY_AFTER_SECONDS = 5
LOG_INTERVAL_SECONDS = 10.0
MESSAGE = "the database is unavailable; retry in a few seconds"
STREAM_MESSAGE = "The assistant cannot reach its database right now. Please try again in a moment."

# SQLSTATE classes and codes that mean the server is gone or refusing work (not a bad query).
_CONNECTION_CLASS = "08"  # connection exception
_SHUTDOWN_STATES = {"57P01": "server_shutdown", "57P02": "server_shutdown", "57P03": "server_starting"}
_OTHER_STATES = {"53300": "too_many_connections"}
_DB_MODULES = ("asyncpg", "sqlalchemy")


def outage_kind(exc: BaseException | None) -> str | None:
    """A short name for the way the database is unreachable (``connection_refused``,
    ``pool_timeout``, ``server_shutdown``, ...), or None when `exc` is anything else
    (a bad query, a statement timeout, a bug). Follows causes, contexts and SQLAlchemy's
    ``orig``."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        kind = _kind_of(exc)
        if kind:
            return kind
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return None


def _kind_of(exc: BaseException) -> str | None:
    module = type(exc).__module__
    name = type(exc).__name__
    if module.startswith("sqlalchemy"):
        if name == "TimeoutError":  # QueuePool limit reached, connection timed out
            return "pool_timeout"
        if getattr(exc, "connection_invalidated", False):
            return "connection_lost"
        return None
    if module.startswith("asyncpg"):
        state = getattr(exc, "sqlstate", None) or ""
        if state in _SHUTDOWN_STATES:
            return _SHUTDOWN_STATES[state]
        if state in _OTHER_STATES:
            return _OTHER_STATES[state]
        if state.startswith(_CONNECTION_CLASS):
            return "connection_lost"
        if name in ("InterfaceError", "ConnectionFailureError") and "closed" in str(exc):
            return "connection_lost"
        return None
    if isinstance(exc, (OSError, TimeoutError)) and _raised_in_database_code(exc.__traceback__):
        # Connecting: asyncpg raises the socket's own error (refused, no socket file, timeout).
        if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ENOENT:
            return "connection_refused"
        if isinstance(exc, TimeoutError):
            return "connect_timeout"
        return "connection_lost"
    return None


def _raised_in_database_code(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(_DB_MODULES):
            return True
        tb = tb.tb_next
    return False


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
