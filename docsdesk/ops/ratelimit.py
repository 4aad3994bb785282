"""Rate limits and the per-user cap on concurrent streams.

The mechanism is slowapi's `Limiter`: it owns the `limits` storage (``memory://`` by default,
``redis://...`` to share limits across instances) and the strategy: fixed windows, slowapi's
default (one counter per window, the cheapest check in memory and in Redis).

The routes it fits use slowapi's route limits (`Limiter.shared_limit`, with its key
functions): new sessions per client IP, direct uploads per reader, the admin API per client
IP, /mcp and llms.txt per API key (per client IP without one) (`check_route`). /chatkit needs an order slowapi's decorator cannot express: every request
counts against its user's request limit right after authentication, before its body is parsed
(invalid requests count too); a valid streaming turn then also takes a stream slot and counts
against the turn limit; `attachments.create` counts against the upload limit. Those checks
call the limiter's strategy directly, on the same counters (keys: prefix, key, scope). A
networked storage is used from a worker thread (its client is synchronous); if it fails,
limits fall back to this process's memory for a few seconds rather than refusing or blocking
traffic.

Concurrent streams are counted in the same storage, as numbered slots per user
(``max_concurrent_streams_per_user`` of them). Each slot is a counter leased for longer than
any turn can last, so a crashed worker cannot hold one forever.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, get_args

from chatkit.types import StreamingReq
from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import STRATEGIES, RateLimiter
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded

from docsdesk.core.context import DEFAULT_ASSISTANT, Identity, identity_key
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.ops.access import call_at_end, telemetry_of
from docsdesk.ops.memory_storage import ProcessMemoryStorage
from docsdesk.ops.metrics import observe_rate_limited

log = logging.getLogger("docsdesk.ratelimit")
# slowapi logs each refusal with its key (an address or a reader id): the metric and the
# access line already record refusals, without the raw key.
logging.getLogger("slowapi").setLevel(logging.ERROR)

# The request types that answer with a stream (a turn), straight from the SDK's union.
STREAMING_TYPES = frozenset(req.model_fields["type"].default for req in get_args(StreamingReq))
STRATEGY = "fixed-window"
STORAGE_RETRY_SECONDS = 5.0
STREAM_SLOT_MARGIN_SECONDS = 60
TOO_MANY_STREAMS_RETRY_SECONDS = 5
_REDIS_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
_LABELS = {
    "turns": "messages",
    "reads": "requests",
    "sessions": "new sessions",
    "uploads": "attachments",
    "admin": "admin requests",
    "admin_failures": "failed admin authentications",
    "mcp": "MCP requests",
}
ADMIN_LIMIT = "120/minute"  # per client IP: the admin API is for people, not scripts
ADMIN_FAILURES_LIMIT = "20/minute"  # wrong admin credentials per client IP (docsdesk.ops.admin_failures)
KEY_PREFIX = "docsdesk"
UPLOAD_TYPES = frozenset({"attachments.create"})

T = TypeVar("T")
Release = Callable[[], Awaitable[None]]


def client_ip(request: Request) -> str:
    """slowapi key: the client's address (docsdesk.ops.observability resolves proxies)."""
    return f"ip:{telemetry_of(request).client_ip or (request.client.host if request.client else '')}"


def reader(request: Request) -> str:
    """slowapi key: the authenticated reader (set on the telemetry by authentication)."""
    identity = telemetry_of(request).identity
    if identity is None:
        raise ValueError("no authenticated reader to rate-limit")
    return identity_key(identity)


def caller(request: Request) -> str:
    """slowapi key: the authenticated caller (an MCP API key is one), else the client's address."""
    identity = telemetry_of(request).identity
    return identity_key(identity) if identity is not None else client_ip(request)


_ROUTE_KEYS: dict[str, Callable[[Request], str]] = {
    "sessions": client_ip,
    "uploads": reader,
    "admin": client_ip,
    "mcp": caller,
}


# The functions slowapi's route limits decorate (one per limit: slowapi keys its limits by
# function name); the checks run before each route's own work.
def sessions(request: Request) -> None:
    return None


def uploads(request: Request) -> None:
    return None


def admin(request: Request) -> None:
    return None


def mcp(request: Request) -> None:
    return None


class RateLimits:
    """The limits of one process; its storage may be shared with other processes."""

    def __init__(self, settings: Settings) -> None:
        uri = settings.rate_limit_storage
        if uri.startswith("memory://"):
            uri = "docsdesk+memory://"
        options: dict[str, Any] = dict(_REDIS_OPTIONS) if uri.startswith(("redis", "rediss")) else {}
        try:
            self.rules: dict[str, list[RateLimitItem]] = {
                "turns": parse_many(settings.rate_limit_turns),
                "reads": parse_many(settings.rate_limit_reads),
                "sessions": parse_many(settings.rate_limit_sessions),
                "uploads": parse_many(settings.rate_limit_uploads),
                "admin": parse_many(ADMIN_LIMIT),
                "admin_failures": parse_many(ADMIN_FAILURES_LIMIT),
                "mcp": parse_many(settings.rate_limit_mcp),
            }
            self.limiter = Limiter(
                key_func=client_ip,
                storage_uri=uri,
                storage_options=options,
                strategy=STRATEGY,
                key_prefix=KEY_PREFIX,
            )
            self._routes = {
                "sessions": self._route_check(settings.rate_limit_sessions, "sessions", client_ip, sessions),
                "uploads": self._route_check(settings.rate_limit_uploads, "uploads", reader, uploads),
                "admin": self._route_check(ADMIN_LIMIT, "admin", client_ip, admin),
                "mcp": self._route_check(settings.rate_limit_mcp, "mcp", caller, mcp),
            }
        except Exception as exc:  # noqa: BLE001 - limits raises ValueError or ConfigurationError
            raise ValueError(f"invalid rate-limit settings: {exc}") from None
        self.strategy: RateLimiter = self.limiter.limiter
        self.storage: Storage = self.strategy.storage
        self.local = isinstance(self.storage, ProcessMemoryStorage)
        self.fallback: RateLimiter = (
            self.strategy if self.local else STRATEGIES[STRATEGY](ProcessMemoryStorage())
        )
        self.max_streams = settings.max_concurrent_streams_per_user
        self.stream_lease = int(settings.turn_timeout_seconds) + STREAM_SLOT_MARGIN_SECONDS
        self._fallback_until = 0.0

    # --- checks ---------------------------------------------------------------------------

    async def check_session(self, request: Request) -> None:
        """POST /session: limited per client IP; raises ApiError 429."""
        await self.check_route("sessions", request)

    async def check_renewal(self, identity: Identity) -> None:
        """POST /session renewing a valid session: counted per reader against the read limit,
        not per IP (readers behind one address each renew their own); raises ApiError 429."""
        await self._enforce("reads", identity_key(identity))

    async def admit_request(self, identity: Identity) -> None:
        """Every /chatkit request, once authenticated and before its body is read or parsed
        (so requests that fail parsing count too): the per-user request limit."""
        await self._enforce("reads", identity_key(identity))

    async def admit_chatkit(
        self,
        request: Request,
        identity: Identity,
        request_type: str,
        assistant: str = DEFAULT_ASSISTANT,
        turn_limit: str | None = None,
    ) -> None:
        """A parsed, valid /chatkit request (already counted by `admit_request`): streaming
        turns also take a stream slot (released when the response ends) and count against
        the turn limit: the assistant's own (`turn_limit`, counted per assistant) if it has
        one, else the deployment's."""
        key = identity_key(identity)
        if request_type not in STREAMING_TYPES:
            if request_type in UPLOAD_TYPES:
                await self._enforce("uploads", key)
            return
        release = await self._acquire_stream(key)
        try:
            if turn_limit is None:
                await self._enforce("turns", key)
            else:
                await self._enforce_assistant(assistant, turn_limit, key)
        except BaseException:
            if release is not None:
                await release()
            raise
        if release is not None:
            call_at_end(request, release)

    async def check_upload(self, request: Request, identity: Identity) -> None:
        """A direct upload (POST /attachments): the per-user attachment limit; raises ApiError 429."""
        telemetry_of(request).identity = identity
        await self.check_route("uploads", request)

    async def check_route(self, name: str, request: Request) -> None:
        """slowapi's route limit `name` ("sessions", "uploads", "admin", "mcp") for this request;
        raises ApiError 429. A networked storage is asked from a worker thread; while it
        fails, the same limit is counted in this process's memory."""
        key = _ROUTE_KEYS[name](request)
        if self.local:
            retry_after = self._route_limited(name, request)
        elif time.monotonic() < self._fallback_until:
            retry_after = _hit(self.fallback, self.rules[name], name, key)
        else:
            try:
                retry_after = await asyncio.to_thread(self._route_limited, name, request)
            except Exception as exc:  # noqa: BLE001 - any storage failure
                self._storage_failed(exc)
                retry_after = _hit(self.fallback, self.rules[name], name, key)
        if retry_after is not None:
            self._refuse(name, retry_after)

    def _route_limited(self, name: str, request: Request) -> int | None:
        """Run slowapi's check for the route limit `name`: None when allowed, else the
        seconds until it would be."""
        try:
            self._routes[name](request=request)
        except RateLimitExceeded:
            item, args = request.state.view_rate_limit
            reset_at, _ = self.strategy.get_window_stats(item, *args)
            return max(1, math.ceil(reset_at - time.time()))
        return None

    def _route_check(
        self, limit: str, scope: str, key: Callable[[Request], str], func: Callable[[Request], None]
    ) -> Callable[..., None]:
        return self.limiter.shared_limit(limit, scope, key_func=key)(func)

    def _refuse(self, name: str, retry_after: int) -> None:
        observe_rate_limited(name)
        self._refuse_rules(name, name, retry_after)

    def _refuse_rules(self, name: str, label: str, retry_after: int) -> None:
        limit = "; ".join(str(item) for item in self.rules[name])
        raise ApiError(
            429,
            "rate_limited",
            f"too many {_LABELS[label]} (limit: {limit}); retry in {retry_after} s",
            {"Retry-After": str(retry_after)},
        )

    def _storage_failed(self, exc: Exception) -> None:
        log.warning(
            "rate-limit storage unavailable (%s); using per-process limits for %.0f s",
            exc,
            STORAGE_RETRY_SECONDS,
        )
        self._fallback_until = time.monotonic() + STORAGE_RETRY_SECONDS

    async def spent(self, name: str, key: str) -> int | None:
        """Whether limit `name` is used up for `key`, without counting: None, or the seconds
        until it is not."""
        return await self._run(_spent, self.rules[name], name, key)

    async def count(self, name: str, key: str) -> None:
        """Count one event against limit `name` for `key`; refusing is the caller's call."""
        await self._run(_hit, self.rules[name], name, key)

    async def _enforce(self, name: str, key: str) -> None:
        retry_after = await self._run(_hit, self.rules[name], name, key)
        if retry_after is not None:
            self._refuse(name, retry_after)

    async def _enforce_assistant(self, assistant: str, limit: str, key: str) -> None:
        name = f"turns:{assistant}:{limit}"
        if name not in self.rules:
            self.rules[name] = parse_many(limit)  # checked when the config was read
        retry_after = await self._run(_hit, self.rules[name], name, f"{key}:a:{assistant}")
        if retry_after is not None:
            observe_rate_limited("turns")
            self._refuse_rules(name, "turns", retry_after)

    async def _acquire_stream(self, key: str) -> Release | None:
        if self.max_streams <= 0:
            return None
        acquired = await self._run(_take_slot, key, self.max_streams, self.stream_lease)
        if acquired is None:
            observe_rate_limited("streams")
            raise ApiError(
                429,
                "too_many_streams",
                f"too many answers in progress for this user (limit: {self.max_streams}); "
                "wait for one to finish",
                {"Retry-After": str(TOO_MANY_STREAMS_RETRY_SECONDS)},
            )
        storage, slot = acquired

        async def release() -> None:
            try:
                if storage is self.storage and not self.local:
                    await asyncio.to_thread(storage.clear, slot)
                else:
                    storage.clear(slot)
            except Exception:
                log.warning("could not release stream slot %s; its lease will expire", slot, exc_info=True)

        return release

    # --- storage access -------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(strategy, *args)` on the configured storage (off the event loop when it is
        networked), or on the in-process fallback while that storage is failing."""
        if self.local or time.monotonic() < self._fallback_until:
            return fn(self.fallback, *args)
        try:
            return await asyncio.to_thread(fn, self.strategy, *args)
        except Exception as exc:  # noqa: BLE001 - any storage failure
            self._storage_failed(exc)
            return fn(self.fallback, *args)


def _hit(strategy: RateLimiter, items: list[RateLimitItem], name: str, key: str) -> int | None:
    """Count one request; None when allowed, else the seconds until it would be."""
    for item in items:
        # The same counter slowapi's route limits use: (prefix, key, scope).
        if not strategy.hit(item, KEY_PREFIX, key, name):
            reset_at, _ = strategy.get_window_stats(item, KEY_PREFIX, key, name)
            return max(1, math.ceil(reset_at - time.time()))
    return None


def _spent(strategy: RateLimiter, items: list[RateLimitItem], name: str, key: str) -> int | None:
    """None while every limit has room for one more, else the seconds until it will."""
    for item in items:
        if not strategy.test(item, KEY_PREFIX, key, name):
            reset_at, _ = strategy.get_window_stats(item, KEY_PREFIX, key, name)
            return max(1, math.ceil(reset_at - time.time()))
    return None


def _take_slot(strategy: RateLimiter, key: str, slots: int, lease: int) -> tuple[Storage, str] | None:
    """Claim the first free stream slot: a slot counter incremented to 1 is ours; a held slot
    just counts the failed attempt (its holder clears it on release)."""
    storage = strategy.storage
    for index in range(slots):
        slot = f"docsdesk/streams/{key}/{index}"
        if storage.incr(slot, lease) == 1:
            return storage, slot
    return None
