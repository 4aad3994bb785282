"""Reader origins: which web pages may call the reader API (`/chatkit`, `/session`, `/attachments`).

CORS alone does not stop a browser request: a "simple" request (`POST /session` with no
`Authorization` header) is sent without a preflight, the server acts on it, and only then does
the browser hide the answer from the page. So a request whose `Origin` is neither allowed
(DOCSDESK_CORS_ORIGINS, normalised as browsers send origins) nor this server's own is refused
here, before any route runs, preflights included: `403 origin_not_allowed` naming the origin, and
one warning per origin per minute telling the operator what to add.

Requests without an `Origin` (servers, curl, same-origin navigation) are not browser
cross-origin calls and pass.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, cast
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from docsdesk.core.errors import ApiError
from docsdesk.core.setting_checks import origin as normalise_origin
from docsdesk.core.settings import Settings
from docsdesk.ops.access import RequestObserver

log = logging.getLogger("docsdesk.origins")

READER_PATHS = ("/chatkit", "/session", "/attachments")
LOG_EVERY_SECONDS = 60.0
MAX_REMEMBERED = 1024  # origins whose last warning time is kept (the oldest are forgotten)
_SHOWN_CHARS = 200


def is_reader_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in READER_PATHS) or (
        assistant_of(path) is not None
    )


def assistant_of(path: str) -> str | None:
    """NAME for `/a/NAME/chatkit` (a named assistant's endpoint), else None."""
    if not path.startswith("/a/") or not path.endswith("/chatkit"):
        return None
    name = path[3 : -len("/chatkit")]
    return name if name and "/" not in name else None


def assistant_origins(app: Any, path: str) -> frozenset[str]:
    """The origins the assistants allow for `path` (docsdesk.toml's `origins`, read live so a
    reload applies): a named assistant's own for `/a/NAME/chatkit`, the default assistant's
    for `/chatkit`, any assistant's for the shared `/session` and `/attachments`."""
    services = getattr(getattr(app, "state", None), "services", None)
    if services is None:
        return frozenset()
    registry = services.assistants
    known = registry.names()
    name = assistant_of(path) or (registry.default if path == "/chatkit" else None)
    names = known if name is None else [name] if name in known else []
    return frozenset(origin for each in names for origin in registry.get(each).origins)


class OriginGuard:
    """Pure ASGI middleware refusing reader-API requests from origins that are not allowed."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed = frozenset(_normalised(settings.cors_origins))
        self.any_origin = "*" in self.allowed
        self.own = frozenset(_own_origins(settings.public_url))
        self._warned: OrderedDict[str, float] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.any_origin or not is_reader_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = {name: value for name, value in scope["headers"] if name in _WANTED}
        sent = headers.get(b"origin")
        extra = frozenset() if sent is None else assistant_origins(scope.get("app"), scope["path"])
        if sent is None or "*" in extra or self._accepts(sent.decode("latin-1"), headers, extra):
            await self.app(scope, receive, send)
            return
        shown = _shown(sent.decode("latin-1"))
        self._warn(shown)
        refusal = ApiError(
            403,
            "origin_not_allowed",
            f"origin {shown} is not allowed to use this docsdesk server (the operator lists the "
            "sites that embed it in DOCSDESK_CORS_ORIGINS, or an assistant's `origins` in docsdesk.toml)",
            {"Vary": "Origin"},
        )
        await refusal.response()(scope, receive, send)

    def _accepts(self, sent: str, headers: dict[bytes, bytes], extra: frozenset[str]) -> bool:
        try:
            origin = normalise_origin(sent)
        except ValueError:
            return False  # "null" (a sandboxed frame, a file:// page) or garbage
        if origin in self.allowed or origin in self.own or origin in extra:
            return True
        # This server's own pages (the admin console, a page served behind the same host):
        # the browser says so, or the origin names the host the request was sent to.
        if headers.get(b"sec-fetch-site") == b"same-origin":
            return True
        host = headers.get(b"host", b"").decode("latin-1").lower()
        return bool(host) and urlsplit(origin).netloc == _without_default_port(host, origin)

    def _warn(self, origin: str) -> None:
        now = time.monotonic()
        last = self._warned.get(origin)
        if last is not None and now - last < LOG_EVERY_SECONDS:
            return
        self._warned[origin] = now
        self._warned.move_to_end(origin)
        while len(self._warned) > MAX_REMEMBERED:
            self._warned.popitem(last=False)
        listed = ",".join(sorted(self.allowed))
        log.warning(
            "refused requests from origin %s: it is not in DOCSDESK_CORS_ORIGINS (%s); if the "
            "assistant is embedded there, add it: DOCSDESK_CORS_ORIGINS=%s",
            origin,
            listed or "empty",
            ",".join(filter(None, [listed, origin])),
            extra={"origin": origin},
        )


_WANTED = frozenset({b"origin", b"host", b"sec-fetch-site"})


def _normalised(origins: list[str]) -> list[str]:
    """The settings' origins (already normalised when read from the environment; settings
    built in code may not be), skipping any that are not origins."""
    out = []
    for value in origins:
        try:
            out.append(normalise_origin(value))
        except ValueError:
            log.warning("DOCSDESK_CORS_ORIGINS: ignoring %r, which is not an origin", value)
    return out


def _own_origins(public_url: str | None) -> list[str]:
    if not public_url:
        return []
    try:
        return [normalise_origin(public_url.split("://", 1)[0] + "://" + urlsplit(public_url).netloc)]
    except ValueError:
        return []


def _without_default_port(host: str, origin: str) -> str:
    scheme = origin.split("://", 1)[0]
    default = {"http": ":80", "https": ":443"}[scheme]
    return host.removesuffix(default)


def _shown(value: str) -> str:
    value = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in value)
    return value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "..."


class AssistantCORS(CORSMiddleware):
    """CORS for the deployment's origins and every assistant's (docsdesk.toml `origins`, read
    live, so a reload applies). Which assistant an origin may call is the OriginGuard's check,
    which runs first."""

    def __init__(self, app: ASGIApp, owner: Any, **options: Any) -> None:
        super().__init__(app, **options)
        self.owner = owner

    def is_allowed_origin(self, origin: str) -> bool:
        return super().is_allowed_origin(origin) or origin in assistant_origins(self.owner, "/session")


def install(app: FastAPI, settings: Settings, assistants_file: bool = False) -> None:
    """Put the guard just inside the request observer (so refusals are logged, counted and carry
    a request id) and outside CORS (so a refused preflight is a 403 naming the origin). With a
    config file (`assistants_file`), CORS also answers for the assistants' origins."""
    observer = next(
        (i for i, entry in enumerate(app.user_middleware) if entry.cls is RequestObserver),
        -1,
    )
    app.user_middleware.insert(observer + 1, Middleware(OriginGuard, settings=settings))
    if not assistants_file:
        return
    cors = next((i for i, entry in enumerate(app.user_middleware) if entry.cls is CORSMiddleware), None)
    options: dict[str, Any] = {
        "allow_origins": [],
        "allow_credentials": True,
        "allow_methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": ["*"],
        "expose_headers": ["X-Request-ID", "Retry-After"],
        "max_age": 600,
    }
    if cors is not None:
        options = dict(app.user_middleware[cors].kwargs)
        del app.user_middleware[cors]
    else:
        cors = len(app.user_middleware)  # innermost, as docsdesk.ops.access adds it
    app.user_middleware.insert(cors, Middleware(cast(Any, AssistantCORS), owner=app, **options))
