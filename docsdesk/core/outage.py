"""Which failures mean "the database cannot answer now": the one classifier.

`outage_kind(exc)` names the way the database is unavailable (``connection_refused``,
``pool_timeout``, ``server_shutdown``, ``statement_timeout``, ...) or gives None for anything
else (a bad query, a constraint, a bug). Everything that turns a database failure into an answer
uses it: the HTTP layer and the turn stream (503 / a retryable error, docsdesk.ops.outage), the
admin API, and start-up (`DatabaseUnavailable`, which carries its kind).

A statement timeout (SQLSTATE 57014, also an operator's ``pg_cancel_backend``) counts: the
database did not answer in time (load, a lock held elsewhere), which is neither the client's
mistake nor a reason to stop retrying, so it is a 503 with Retry-After like the others.
"""

from __future__ import annotations

import errno
from types import TracebackType

# SQLSTATE classes and codes that mean the server is gone, refusing or unable to finish work.
_CONNECTION_CLASS = "08"  # connection exception
_STATES = {
    "57P01": "server_shutdown",  # admin_shutdown
    "57P02": "server_shutdown",  # crash_shutdown
    "57P03": "server_starting",  # cannot_connect_now
    "53300": "too_many_connections",
    "57014": "statement_timeout",  # query_canceled
}
_DB_MODULES = ("asyncpg", "sqlalchemy")
# What a reader sees when a turn under way loses the database (a retryable error event).
OUTAGE_STREAM_MESSAGE = "The assistant cannot reach its database right now. Please try again in a moment."


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached; the message is one line for humans, `kind`
    the classifier's name for the failure (``unreachable`` when no finer one applies)."""

    def __init__(self, message: str, kind: str = "unreachable") -> None:
        super().__init__(message)
        self.kind = kind


def outage_kind(exc: BaseException | None) -> str | None:
    """A short name for the way the database cannot answer, or None when `exc` is anything
    else. Follows causes, contexts and SQLAlchemy's ``orig``."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        kind = _kind_of(exc)
        if kind:
            return kind
        exc = getattr(exc, "orig", None) or exc.__cause__ or exc.__context__
    return None


def _kind_of(exc: BaseException) -> str | None:
    if isinstance(exc, DatabaseUnavailable):
        return exc.kind
    module = type(exc).__module__
    if module.startswith("sqlalchemy"):
        if type(exc).__name__ == "TimeoutError":  # QueuePool limit reached, connection timed out
            return "pool_timeout"
        if getattr(exc, "connection_invalidated", False):
            return "connection_lost"
        return None
    if module.startswith("asyncpg"):
        return _asyncpg_kind(exc)
    if isinstance(exc, (OSError, TimeoutError)) and _raised_in_database_code(exc.__traceback__):
        # Connecting: asyncpg raises the socket's own error (refused, no socket file, timeout).
        if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ENOENT:
            return "connection_refused"
        if isinstance(exc, TimeoutError):
            return "connect_timeout"
        return "connection_lost"
    return None


def _asyncpg_kind(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None) or ""
    if state in _STATES:
        return _STATES[state]
    if state.startswith(_CONNECTION_CLASS):
        return "connection_lost"
    # asyncpg's own check on a closed connection has no SQLSTATE and no class of its own:
    # an InterfaceError whose message says so.
    if type(exc).__name__ in ("InterfaceError", "ConnectionFailureError") and "closed" in str(exc):
        return "connection_lost"
    return None


def _raised_in_database_code(tb: TracebackType | None) -> bool:
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(_DB_MODULES):
            return True
        tb = tb.tb_next
    return False
