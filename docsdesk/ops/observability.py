"""Operations: structured logs with request ids, client addresses behind proxies, CORS, and
the pure-ASGI middleware that ties logs and metrics to every request; `install` adds it all,
with the probes (probes.py) and /metrics (metrics.py), to the app.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TextIO

from docsdesk.core.secret import server_secret
from docsdesk.core.settings import Settings
from docsdesk.ops.outage import OutageLogFilter, outage_kind

# --- logs ---------------------------------------------------------------------------------

_request_id: ContextVar[str | None] = ContextVar("docsdesk_request_id", default=None)
_JSON = json.JSONEncoder(default=str, ensure_ascii=False)
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "fields",
    "color_message",
    "taskName",
}


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    request_id = getattr(record, "request_id", None) or _request_id.get()
    if request_id:
        fields["request_id"] = request_id
    for key, value in record.__dict__.items():
        if key not in _RESERVED and not key.startswith("_") and key != "request_id":
            fields[key] = value
    fields.update(getattr(record, "fields", None) or {})
    return fields


# Client values reach log lines (paths, thread ids, tenants, exception messages): each value is
# capped and its control characters escaped, so none can start a line of its own or flood the log.
MAX_VALUE_CHARS = 256
MAX_MESSAGE_CHARS = 2_048
MAX_EXC_CHARS = 16_384
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PLAIN = re.compile(r"[^\s\"=\\]+")


def clip(value: str, limit: int) -> str:
    """`value`, cut to `limit` characters and saying how many more there were."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}…(+{len(value) - limit} chars)"


def escape_controls(value: str) -> str:
    """Control characters (and Unicode line separators) as visible escapes (\\n, \\u001b)."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\u{ord(m.group()):04x}"), value)


def _safe_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: clip(v, MAX_VALUE_CHARS) if isinstance(v, str) else v for k, v in fields.items()}


def json_line(
    created: float, level: str, logger: str, message: str, fields: dict[str, Any], exc: str | None = None
) -> str:
    """One JSON object: ts, level, logger, pid, message, then the fields (and a traceback)."""
    line: dict[str, Any] = {
        "ts": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        "level": level.lower(),
        "logger": logger,
        "pid": os.getpid(),
        "message": clip(message, MAX_MESSAGE_CHARS),
    }
    line.update(_safe_fields(fields))
    if exc:
        line["exc"] = clip(exc, MAX_EXC_CHARS)
    # JSON escapes control characters; U+2028/2029 too, as some readers split lines on them.
    return _JSON.encode(line).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def text_line(
    created: float, level: str, logger: str, message: str, fields: dict[str, Any], exc: str | None = None
) -> str:
    """``time LEVEL logger: message key=value ...`` (a traceback on the following lines,
    indented, so that no line of it can pass for a log line)."""
    stamp = datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M:%S")
    parts = [f"{stamp} {level} {logger}: {escape_controls(clip(message, MAX_MESSAGE_CHARS))}"]
    parts += [f"{k}={_text_value(v)}" for k, v in _safe_fields(fields).items() if v is not None]
    out = " ".join(parts)
    if not exc:
        return out
    indented = "\n".join("    " + escape_controls(line) for line in clip(exc, MAX_EXC_CHARS).splitlines())
    return f"{out}\n{indented}"


def _text_value(value: Any) -> str:
    value = str(value)
    # Quoted (JSON string escapes) unless plainly safe: no space, quote, '=', backslash or control.
    return value if _PLAIN.fullmatch(value) and not _CONTROL.search(value) else json.dumps(value)


LINE_FORMATS = {"json": json_line, "text": text_line}


class LineFormatter(logging.Formatter):
    """Formats every log record as one json or text line (see json_line, text_line)."""

    def __init__(self, log_format: str = "text") -> None:
        super().__init__()
        self.render = LINE_FORMATS[log_format]

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return self.render(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            _record_fields(record),
            record.exc_text,
        )


class ClientMistakeFilter(logging.Filter):
    """For the ChatKit SDK's logger: it logs every exception out of a streaming request at ERROR
    with a traceback, including a missing thread or an invalid request, which the app answers
    as a 404 or 400 (app.py) and the access line already records. Those records are dropped;
    anything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and is_client_mistake(exc))


def is_client_mistake(exc: BaseException) -> bool:
    """What app.py turns into a 4xx: the store's NotFoundError, a ValueError, an ApiError."""
    from chatkit.store import NotFoundError

    from docsdesk.core.errors import ApiError

    if isinstance(exc, ApiError):
        return exc.status < 500
    return isinstance(exc, (NotFoundError, ValueError)) and not outage_kind(exc)


def quiet_client_mistakes(logger_name: str = "chatkit") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, ClientMistakeFilter) for f in logger.filters):
        logger.addFilter(ClientMistakeFilter())


class EndedGeneratorFilter(logging.Filter):
    """On the ``asyncio`` logger: drops "Task exception was never retrieved" for a task whose
    exception is StopAsyncIteration, i.e. an async generator that simply ended with nobody left
    to look. The ChatKit SDK's event merge leaves such a task behind whenever a turn stops early
    (the reader went away, the server is stopping): one ERROR per turn with nothing to act on
    (issue 23, item 11). Every other asyncio record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, StopAsyncIteration)


def quiet_ended_generators() -> None:
    logger = logging.getLogger("asyncio")
    if not any(isinstance(f, EndedGeneratorFilter) for f in logger.filters):
        logger.addFilter(EndedGeneratorFilter())


_UVICORN_LOGGERS = {"uvicorn": True, "uvicorn.error": True, "uvicorn.access": False}


class LogHandler(logging.StreamHandler[TextIO]):
    """docsdesk's root handler: one line per record (json or text) to whatever sys.stderr is
    at emit time (safe under test capture)."""

    def __init__(self, log_format: str = "text") -> None:
        super().__init__()
        self.setFormatter(LineFormatter(log_format))
        # A database outage: one short line per kind per interval, not a traceback per request.
        self.addFilter(OutageLogFilter())

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """Install docsdesk's handler on the root logger (replacing an earlier one of ours, and
    leaving any other handler alone), route uvicorn's loggers through it and silence
    uvicorn's access log (docsdesk writes its own access line)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, LogHandler):
            root.removeHandler(handler)
    root.addHandler(LogHandler(settings.log_format))
    root.setLevel(settings.log_level.upper())
    for name, propagate in _UVICORN_LOGGERS.items():
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = propagate


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """A logging dictConfig for uvicorn.run(log_config=...): every process, workers included,
    logs through docsdesk's handler from its first line."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"docsdesk": {"()": LogHandler, "log_format": settings.log_format}},
        "root": {"handlers": ["docsdesk"], "level": level},
        "loggers": {
            # uvicorn's start-up chatter ("Started server process", ...) only when debugging:
            # `docsdesk serve` prints its own start-up lines.
            name: {
                "handlers": [],
                "propagate": propagate,
                "level": level if level == "DEBUG" else max_level(level, "WARNING"),
            }
            for name, propagate in _UVICORN_LOGGERS.items()
        },
    }


def max_level(a: str, b: str) -> str:
    return a if logging.getLevelName(a) >= logging.getLevelName(b) else b


def log_salt(settings: Settings) -> bytes:
    """The secret salt for user-id hashes, derived from the server secret (DOCSDESK_SECRET_KEY
    or the one kept in the data dir), so every worker and restart hashes a user alike."""
    return hashlib.sha256(b"docsdesk log salt\0" + server_secret(settings)).digest()


@lru_cache(maxsize=65_536)
def hash_user(salt: bytes, user_id: str) -> str:
    """What the logs show instead of a user id: sha256(salt + user id), 16 hex digits."""
    return hashlib.sha256(salt + user_id.encode()).hexdigest()[:16]


# --- client address -----------------------------------------------------------------------


class ClientAddress:
    """The client's IP: the socket peer, unless the peer is a trusted proxy; then the
    right-most X-Forwarded-For address that is not itself a trusted proxy."""

    def __init__(self, trusted_proxies: list[str]) -> None:
        try:
            self.networks = [ipaddress.ip_network(p.strip(), strict=False) for p in trusted_proxies]
        except ValueError as exc:
            raise ValueError(f"DOCSDESK_TRUSTED_PROXIES: {exc}") from None

    def _trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in self.networks)

    def resolve(self, peer: str, forwarded_for: list[str]) -> str:
        if not self.networks or not self._trusted(_ip(peer)):
            return peer
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
        for hop in reversed(hops):
            address = _ip(hop)
            if address is None:
                return peer  # garbage from the proxy next to us: trust nothing further
            if not self._trusted(address):
                return str(address)
        return peer


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("["):  # [v6]:port
        value = value[1 : value.find("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None
