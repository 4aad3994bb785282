"""The rate limiter's in-process storage (``memory://``): counters for the fixed-window
strategy behind `limits`' public storage interface."""

from __future__ import annotations

import threading
import time
from typing import Any

from limits.storage import Storage


class ProcessMemoryStorage(Storage):
    """In-process counters for the fixed-window strategy (what ``memory://`` means here),
    written against `limits`' public storage interface (`Storage`, registered by its
    STORAGE_SCHEME). limits' own MemoryStorage starts a new expiry thread every 10 ms while
    requests come in, which costs more than the whole rest of a rate-limit check; here an
    expired counter is dropped when read and all of them in a sweep at most once a second,
    on the calling thread."""

    STORAGE_SCHEME = ["docsdesk+memory"]
    SWEEP_SECONDS = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        self._counts: dict[str, int] = {}
        self._expires: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def _live(self, key: str, now: float) -> int:
        if self._expires.get(key, 0.0) <= now:
            self._counts.pop(key, None)
            self._expires.pop(key, None)
            return 0
        return self._counts[key]

    def _sweep(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + self.SWEEP_SECONDS
            for key in [k for k, at in self._expires.items() if at <= now]:
                self._counts.pop(key, None)
                self._expires.pop(key, None)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            self._sweep(now)
            count = self._live(key, now) + amount
            if count == amount:  # a new window starts with its first hit
                self._expires[key] = now + expiry
            self._counts[key] = count
            return count

    def get(self, key: str) -> int:
        with self._lock:
            return self._live(key, time.time())

    def get_expiry(self, key: str) -> float:
        with self._lock:
            return self._expires.get(key, time.time())

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            cleared = len(self._counts)
            self._counts.clear()
            self._expires.clear()
            return cleared

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._expires.pop(key, None)
