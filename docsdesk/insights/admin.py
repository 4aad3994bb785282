"""What the admin API (docsdesk.http.admin) is made of: the console page with its CSP, the
checks of its parameters, database errors as 503, the shape of a search result."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.core.turn import TurnChannel
from docsdesk.insights.report import check_days
from docsdesk.ops.outage import outage_kind, unavailable

MAX_SEARCH_CHARS = 500
ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@contextmanager
def database_errors() -> Iterator[None]:
    """A database that is down or saturated is a 503 with Retry-After, not a 500."""
    try:
        yield
    except Exception as exc:
        if outage_kind(exc) is None:
            raise
        raise unavailable() from None


async def chained(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for chunk in rest:
        yield chunk


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def console_page() -> tuple[str, str]:
    """(the console HTML, its Content-Security-Policy): the inline script and style are
    allowed by their hashes, nothing else inline, nothing from elsewhere."""
    html = files("docsdesk.static").joinpath("admin.html").read_text(encoding="utf-8")

    def hashes(tag: str) -> str:
        return " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
            for body in re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
        )

    csp = (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return html, csp


def check_scope(days: str | None, tenant: str | None, collection: str | None) -> int:
    """The number of days of a report's scope; ApiError 400 naming a bad parameter."""
    try:
        n = check_days(days if days is not None else 30)
    except ValueError as exc:
        raise ApiError(400, "invalid_days", str(exc)) from None
    if tenant is not None and not 1 <= len(tenant.strip()) <= 256:
        raise ApiError(400, "invalid_tenant", "tenant must be 1-256 characters")
    if collection is not None and not ID.fullmatch(collection):
        raise ApiError(400, "invalid_collection", "collection must be 1-128 letters, digits, _ or -")
    return n


def check_channel(channel: str | None) -> TurnChannel | None:
    """A report's channel filter (`widget`, `mcp`; None = every channel); ApiError 400 otherwise."""
    if channel is None:
        return None
    try:
        return TurnChannel(channel)
    except ValueError:
        allowed = " or ".join(c.value for c in TurnChannel)
        raise ApiError(400, "invalid_channel", f"channel must be {allowed}") from None


def tenant_claim(settings: Settings) -> str | None:
    """Where tenants come from, if anywhere: the console then offers a tenant filter."""
    if settings.auth_mode == "jwt":
        return settings.jwt_tenant_claim
    return "X-Tenant-ID" if settings.auth_mode == "trusted-header" else None


def check_search(q: str, k: str) -> tuple[str, int]:
    """(the query, how many results) of a playground search; ApiError 400 naming a bad one."""
    query = " ".join(q.split())
    if not query:
        raise ApiError(400, "invalid_query", "q (the search text) is required")
    if len(query) > MAX_SEARCH_CHARS:
        raise ApiError(400, "invalid_query", f"q is longer than {MAX_SEARCH_CHARS} characters")
    if not k.isdigit() or not 1 <= int(k) <= 20:
        raise ApiError(400, "invalid_k", "k must be a whole number from 1 to 20")
    return query, int(k)


def search_result(result: Any) -> dict[str, Any]:
    return {
        "title": result.title,
        "heading_path": list(result.heading_path),
        "url": result.url,
        "score": result.score,
        "collection": result.collection,
        "snippet": result.snippet,
        "text": result.text[:1500],
    }
