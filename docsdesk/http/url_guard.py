"""A NUL in the request path or query string is a 400 before any route runs (issue 23, item 8).

PostgreSQL text cannot hold U+0000, so `%00` in an attachment id, an admin `tenant` or `q`
used to reach the database and fail there: a 500 with a traceback, unauthenticated on the
signed upload and preview routes. Installed inside the request observer, so the refusal is
one INFO access-log line with its error code.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from docsdesk.core.errors import ApiError


class RejectNulInUrl:
    """Pure ASGI middleware: 400 `invalid_request` for a NUL in the path or query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            response = ApiError(400, "invalid_request", "the URL contains a NUL character (%00)").response()
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query
