"""Slow clients: a deadline for a request's headers and a cap on their size, at the HTTP protocol.

uvicorn times out an idle keep-alive connection (`timeout_keep_alive`), but nothing else: a
client that trickles its request headers a byte at a time holds its connection for as long as it
likes, and the httptools parser (what uvicorn picks when installed) has no header size limit
(`h11_max_incomplete_event_size` applies to h11 only). `GuardedHttpProtocol` is uvicorn's own
HTTP protocol class with both bounds added: from the moment a connection opens, or the first
byte of a further request on a keep-alive connection arrives, the request's headers must arrive
within `header_timeout_seconds` (else `408`) and within `http_max_header_bytes` (else `431`);
the connection is then closed. An idle keep-alive connection is closed by uvicorn's keep-alive
timeout alone (`http_keep_alive_seconds`), so that a proxy in front, whose own idle timeout is
shorter, is always the side that closes it (closing under a proxy that is just reusing the
connection fails that request).
The body has its own deadline in the app (app.py `read_body`, `body_timeout_seconds`). At
shutdown the protocol starts the server's stream drain (docsdesk.ops.drain).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from docsdesk.ops.drain import DRAIN_KEY, StreamDrain, drain_of

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Preferred
except ImportError:  # httptools is not installed: uvicorn uses h11
    _Preferred = H11Protocol  # type: ignore[assignment,misc]

HEADER_SECONDS_ATTR = "docsdesk_header_timeout_seconds"
HEADER_BYTES_ATTR = "docsdesk_max_header_bytes"


def _refusal(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def _head_end(data: bytes) -> int | None:
    """Where the request head in `data` ends (after its blank line), or None: not yet."""
    ends = [i + len(mark) for mark in (b"\r\n\r\n", b"\n\n", b"\n\r\n") if (i := data.find(mark)) >= 0]
    return min(ends) if ends else None


if TYPE_CHECKING:
    _Host = H11Protocol  # what the mixin is combined with (both uvicorn protocols share it)
else:
    _Host = object


class _HeaderDeadline(_Host):
    """Mixin over a uvicorn HTTP protocol class (which sets `self.cycle` once a request's
    headers are parsed, and calls `on_response_complete` after each response)."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_seconds: float = getattr(config, HEADER_SECONDS_ATTR, 10.0)
        self._header_limit: int = getattr(config, HEADER_BYTES_ATTR, 16 * 1024)
        self._deadline: asyncio.TimerHandle | None = None
        self._awaited_after: Any = None  # the cycle in place when the deadline was armed
        self._header_bytes = 0
        self._idle = False  # a keep-alive connection between requests
        self._head_tail = b""  # the last bytes of the previous read: a head end may straddle reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's
        super().connection_made(transport)
        self.app_state.setdefault(DRAIN_KEY, StreamDrain())  # server-wide: one for all requests
        self._arm()

    def shutdown(self) -> None:
        """The server is stopping: open streams end before the grace runs out (docsdesk.ops.drain)."""
        drain = drain_of(self.app_state)
        if drain is not None:
            drain.begin(self.config.timeout_graceful_shutdown)
        super().shutdown()

    def data_received(self, data: bytes) -> None:
        if self._idle:  # the first bytes of the next request on a keep-alive connection
            self._idle = False
            self._arm()
        waiting = self._deadline is not None
        if waiting:
            # Count the head up to its end in this read (a head sent in one write is parsed,
            # and its request started, by the parser below: refuse it before that).
            head_end = _head_end(self._head_tail + data)
            head = len(data) if head_end is None else max(0, head_end - len(self._head_tail))
            self._header_bytes += head
            self._head_tail = (self._head_tail + data)[-3:]
            if self._header_bytes > self._header_limit:
                self._refuse(self._too_large())
                return
        super().data_received(data)
        if not waiting:
            return
        if self.cycle is not self._awaited_after:
            self._disarm()  # the headers are in: the request is under way
        elif self._header_bytes > self._header_limit:
            self._refuse(self._too_large())

    def _too_large(self) -> bytes:
        return _refusal(
            431,
            "Request Header Fields Too Large",
            "headers_too_large",
            f"request headers are over the {self._header_limit}-byte limit",
        )

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # Idle until the next request starts: the keep-alive timeout, not the header
            # deadline, decides when an idle connection closes.
            self._disarm()
            self._idle = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_bytes = 0
        self._head_tail = b""
        self._awaited_after = self.cycle
        self._deadline = self.loop.call_later(self._header_seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.cycle is not self._awaited_after:
            return
        if self._header_bytes == 0:
            # Nothing sent yet (an idle keep-alive or a pre-opened connection): just close.
            self.transport.close()
            return
        self._refuse(
            _refusal(
                408,
                "Request Timeout",
                "request_timeout",
                f"the request headers did not arrive within {self._header_seconds:g} s",
            )
        )

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        transport = self.transport
        if not transport.is_closing():
            transport.write(response)
            transport.close()


class GuardedHttpProtocol(_HeaderDeadline, _Preferred):  # type: ignore[misc]  # httptools: its own cycle type
    """uvicorn's preferred HTTP protocol (httptools, else h11) with the header bounds."""


class GuardedH11Protocol(_HeaderDeadline, H11Protocol):
    """The h11 protocol with the header bounds (tests use it to cover both parsers)."""


def guard_slow_clients(config: Any, settings: Any, protocol: type = GuardedHttpProtocol) -> None:
    """Configure a `uvicorn.Config` (before `load()`) with docsdesk's slow-client bounds. The
    values ride on the config object, which uvicorn hands to every protocol instance (and
    pickles for worker processes)."""
    config.http = protocol
    config.timeout_keep_alive = settings.http_keep_alive_seconds
    config.h11_max_incomplete_event_size = settings.http_max_header_bytes
    setattr(config, HEADER_SECONDS_ATTR, settings.header_timeout_seconds)
    setattr(config, HEADER_BYTES_ATTR, settings.http_max_header_bytes)
