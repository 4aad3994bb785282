"""API keys for /mcp and llms.txt (table `api_keys`, migration 0008): created by the operator for
one assistant, stored as the SHA-256 of the key, shown once.

A key is `ddk_` and 43 URL-safe characters (256 random bits), so one SHA-256 is a safe digest:
there is nothing to brute-force. Every request looks its key up in the database (one indexed
read, the database's clock deciding expiry): a revoked or expired key is refused at once, on
every instance; nothing is cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

TOKEN_PREFIX = "ddk_"
MAX_TOKEN_CHARS = 200  # a longer bearer value is not a key (and is not hashed)
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per key
_DURATION = re.compile(r"(\d{1,6})\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class KeyRefused(Exception):
    """A bearer key that does not grant access; `code` says why (for the 401)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ApiKey:
    id: str
    prefix: str
    assistant: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def parse_expires(value: str, now: datetime | None = None) -> datetime:
    """`--expires`: a duration (`90m`, `12h`, `30d`, `2w`) from now, or an ISO date or
    date-time (a date means its midnight UTC; a time without zone is UTC). ValueError naming
    the problem, for a value in the past too."""
    now = now or datetime.now(UTC)
    raw = value.strip()
    duration = _DURATION.fullmatch(raw.lower())
    if duration:
        amount, unit = int(duration.group(1)), duration.group(2)
        if amount == 0:
            raise ValueError(f"--expires {raw!r}: a duration must be more than zero")
        return now + timedelta(**{_UNITS[unit]: amount})
    try:
        if len(raw) == 10:
            moment = datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
        else:
            moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"--expires {raw[:40]!r}: expected a duration (30d, 12h, 90m, 2w) or an ISO date (2026-12-31)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now:
        raise ValueError(f"--expires {raw!r} is in the past")
    return moment


_COLUMNS = "id, prefix, assistant, label, created_at, expires_at, revoked_at, last_used_at"


async def create_key(
    engine: AsyncEngine, assistant: str, *, label: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """A new key for `assistant`: (its record, the key itself, which is not stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key_id = "k_" + secrets.token_hex(6)
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    f"INSERT INTO api_keys (id, token_hash, prefix, assistant, label, expires_at)"
                    f" VALUES (:id, :hash, :prefix, :assistant, :label, :expires) RETURNING {_COLUMNS}"
                ),
                {
                    "id": key_id,
                    "hash": digest(token),
                    "prefix": token[: len(TOKEN_PREFIX) + 6],
                    "assistant": assistant,
                    "label": label,
                    "expires": expires_at,
                },
            )
        ).one()
    return ApiKey(*row), token


async def list_keys(engine: AsyncEngine, assistant: str | None = None) -> list[ApiKey]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM api_keys"
                " WHERE CAST(:assistant AS text) IS NULL OR assistant = :assistant ORDER BY created_at, id"
            ),
            {"assistant": assistant},
        )
        return [ApiKey(*row) for row in rows]


async def revoke_key(engine: AsyncEngine, key_id: str) -> ApiKey | None:
    """Revoke `key_id` (already revoked: unchanged); None when there is no such key."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = :id"
                    f" RETURNING {_COLUMNS}"
                ),
                {"id": key_id},
            )
        ).first()
    return ApiKey(*row) if row is not None else None


class KeyCheck:
    """Verifies bearer keys against the database, on every request."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._touching: set[asyncio.Task[None]] = set()

    async def verify(self, token: str) -> ApiKey:
        """The key's record; KeyRefused when it is unknown, revoked or expired."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise KeyRefused("invalid_key", "the API key is not valid")
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(f"SELECT {_COLUMNS}, now() AS now FROM api_keys WHERE token_hash = :hash"),
                    {"hash": digest(token)},
                )
            ).first()
        if row is None:
            raise KeyRefused("invalid_key", "the API key is not valid")
        key, now = ApiKey(*row[:-1]), row[-1]
        status = key.status(now)
        if status == "revoked":
            raise KeyRefused("key_revoked", f"the API key {key.id} has been revoked")
        if status == "expired":
            raise KeyRefused(
                "key_expired", f"the API key {key.id} expired at {key.expires_at:%Y-%m-%d %H:%M} UTC"
            )
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
            self._touch(key.id)
        return key

    def _touch(self, key_id: str) -> None:
        """Record the use off the request's path (at most once a minute per key)."""

        async def touch() -> None:
            try:
                async with self.engine.begin() as conn:
                    await conn.execute(
                        text("UPDATE api_keys SET last_used_at = now() WHERE id = :id"), {"id": key_id}
                    )
            except Exception:  # noqa: BLE001 - a missed last-used time is not worth a failure
                pass

        task = asyncio.create_task(touch())
        self._touching.add(task)
        task.add_done_callback(self._touching.discard)

    async def aclose(self) -> None:
        if self._touching:
            await asyncio.gather(*self._touching, return_exceptions=True)
