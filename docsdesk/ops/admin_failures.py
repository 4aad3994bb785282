"""Failed admin authentications are limited per client IP (issue 23, item 6).

A client IP may present a wrong admin credential ADMIN_FAILURES_LIMIT times (20 a minute,
fixed windows); past that, every admin API request from it, even one with the right token (so
guessing cannot go on), is 429 `too_many_failed_authentications` with Retry-After until the
window ends. A request with no Authorization header at all is not a guess and is not counted.
The counters are the rate limits' (docsdesk.ops.ratelimit: memory, or Redis shared by every
instance); the client IP is the access layer's (DOCSDESK_TRUSTED_PROXIES decides whether
X-Forwarded-For counts). One log line per IP per window, when it is first refused.
"""

from __future__ import annotations

import logging
import threading
import time

from fastapi import Request

from docsdesk.core.errors import ApiError
from docsdesk.ops.metrics import observe_rate_limited
from docsdesk.ops.ratelimit import RateLimits, client_ip

log = logging.getLogger("docsdesk.admin")

LIMIT = "admin_failures"
_MAX_LOGGED = 10_000  # addresses remembered as logged in their current window


class _Logged:
    """Which refused addresses were logged in their current window (this process)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def first(self, key: str, retry_after: int) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._until.get(key, 0.0) > now:
                return False
            if len(self._until) >= _MAX_LOGGED:
                self._until = {k: at for k, at in self._until.items() if at > now}
            self._until[key] = now + retry_after
            return True


_logged = _Logged()


async def refuse_guessing_client(limits: RateLimits, request: Request) -> None:
    """Before the admin credential is compared: 429 when this client IP has used up its
    failures for the window."""
    key = client_ip(request)
    retry_after = await limits.spent(LIMIT, key)
    if retry_after is None:
        return
    observe_rate_limited(LIMIT)
    if _logged.first(key, retry_after):
        log.warning(
            "admin: too many failed authentications from %s; refused for %d s",
            key.removeprefix("ip:"),
            retry_after,
        )
    raise ApiError(
        429,
        "too_many_failed_authentications",
        f"too many failed admin authentications from this address; retry in {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


async def count_failure(limits: RateLimits, request: Request) -> None:
    """A wrong admin credential was presented by this client IP."""
    await limits.count(LIMIT, client_ip(request))
