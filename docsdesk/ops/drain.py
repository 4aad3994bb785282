"""Streams end cleanly when the server stops (issue 23, item 11).

On SIGTERM uvicorn stops accepting connections, lets responses finish for
DOCSDESK_SHUTDOWN_GRACE_SECONDS, then cancels what is still running: a turn still streaming
then was cut with no terminal event, and every cut stream logged an ERROR with a traceback.
Now the HTTP protocol (docsdesk.ops.slowclients) starts a `StreamDrain` when shutdown begins,
and every stream still open `MARGIN_SECONDS` before the grace runs out is stopped by its relay
(docsdesk.http.chatkit): the SDK saves the partial answer as for a reader who went away, and
the reader gets a retryable error event (`SHUTDOWN_MESSAGE`) as the stream's last event, so the
connection closes before uvicorn has anything to cancel. Streams that finish within the grace
are untouched.

One drain per server, shared through uvicorn's server-wide state (the dict each request's
``scope["state"]`` is copied from), under `DRAIN_KEY`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from typing import Any

DRAIN_KEY = "docsdesk.stream_drain"
MARGIN_SECONDS = 1.0  # before the grace runs out: time to send the last event and close
SHUTDOWN_MESSAGE = "The server is restarting. Please try again in a moment."


class StreamDrain:
    """The open streams of one server, and when they must end once shutdown has begun."""

    def __init__(self) -> None:
        self._stops: dict[int, Callable[[], None]] = {}
        self._keys = itertools.count()
        self.deadline: float | None = None  # event-loop time at which open streams are stopped

    def begin(self, grace_seconds: float | None) -> None:
        """Shutdown began with `grace_seconds` for responses to finish (None: no limit, so
        nothing is stopped). Idempotent: every connection reports the same shutdown."""
        if grace_seconds is None or self.deadline is not None:
            return
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + max(0.0, grace_seconds - MARGIN_SECONDS)
        for stop in list(self._stops.values()):
            loop.call_at(self.deadline, stop)

    def register(self, stop: Callable[[], None]) -> Callable[[], None]:
        """Track an open stream; `stop` is called at the deadline. Returns the unregister call."""
        key = next(self._keys)
        self._stops[key] = stop
        if self.deadline is not None:
            asyncio.get_running_loop().call_at(self.deadline, stop)
        return lambda: self._stops.pop(key, None) and None

    def __len__(self) -> int:
        return len(self._stops)


def drain_of(state: Mapping[str, Any] | None) -> StreamDrain | None:
    """The server's drain from a request's ``scope["state"]`` (None when not served by
    docsdesk's protocol, e.g. another ASGI server)."""
    drain = (state or {}).get(DRAIN_KEY)
    return drain if isinstance(drain, StreamDrain) else None
