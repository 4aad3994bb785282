"""The per-request context handed to the ChatKit server and, through it, to the store."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from docsdesk.core.blocks import data_block


def is_page_url(value: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace, quotes, backticks or angle
    brackets: safe to show as a link (issue 23, item 5: a newline forged export headings)."""
    if not value or any(c.isspace() or c in '<>"`\\' for c in value) or not value.isprintable():
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True)
class Identity:
    """The authenticated caller; every store query is scoped to both fields."""

    user_id: str
    tenant_id: str = ""  # "" when there is no tenant
    email: str | None = None  # the `email` claim of the caller's JWT, when it has one
    # The assistants this caller may use (a JWT claim, DOCSDESK_JWT_ASSISTANTS_CLAIM); None: all.
    assistants: frozenset[str] | None = None


def identity_key(identity: Identity) -> str:
    """One string per (tenant, user), unambiguously joined: the key of a caller's rate limits,
    stream slots and per-owner locks."""
    return f"{len(identity.tenant_id)}:{identity.tenant_id}:{identity.user_id}"


DEFAULT_ASSISTANT = "default"


@dataclass(slots=True)
class RequestTelemetry:
    """What one HTTP request reports about itself for its access line and metrics, filled in
    by the code that knows each fact (the route, the turn, the error handler) and read once by
    the request observer (docsdesk.ops.observability) when the response is over."""

    request_id: str
    client_ip: str = ""
    identity: Identity | None = None
    chatkit_type: str = ""  # the ChatKit request type, once parsed
    thread_id: str | None = None  # the thread the request is about (or created)
    error_code: str | None = None  # the error the client was told about, by its code
    first_delta_seconds: float | None = None  # time to the turn's first answer text
    # A turn began answering and has neither finished nor reported an error: if its stream
    # ends like that, the SDK ended it with its own stream.error event.
    turn_open: bool = False


@dataclass(slots=True)
class SeenItems:
    """A thread's newest items as one request has seen them, newest first: read together with
    the thread (`RequestContext.items_with_thread`), plus the items the request saved in it
    since. Items other requests save meanwhile are not in it. `has_more`: older items follow."""

    thread_id: str
    items: list[Any]
    has_more: bool


@dataclass
class RequestContext:
    """Who is asking, and what they sent besides the ChatKit payload.

    `user_id` and `tenant_id` come only from the authenticated identity (see docsdesk/http/auth.py);
    every store query is scoped to both. `metadata` is the request-level `metadata` of the
    ChatKit request body (the widget's page context lives there); it is untrusted data.
    """

    user_id: str
    tenant_id: str = ""
    request_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    page: PageContext | None = None
    # Where the reader reached this server (for the signed attachment URLs we hand out).
    base_url: str = ""
    # Which assistant answers (docsdesk.assistant.definition: looked up per request).
    assistant: str = DEFAULT_ASSISTANT
    # What this request reports for its access line (RequestTelemetry), filled in
    # while a turn streams; None outside an HTTP request.
    telemetry: RequestTelemetry | None = None
    # The caller's email from the identity (a JWT's `email` claim): hand-off forms skip asking.
    email: str | None = None
    # How many of a thread's newest items the store's `load_thread` reads in the same
    # statement (0: none), kept in `seen_items` for this turn's history window; the server
    # sets it for a request that adds a message. Per request: never shared between requests.
    items_with_thread: int = 0
    seen_items: SeenItems | None = None


class PageContext(BaseModel):
    """What the reader is looking at, as the widget reports it in `metadata.page`.

    Untrusted: it is shown to the model as delimited data, never as instructions."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    url: str | None = Field(default=None, max_length=2048)
    title: str | None = Field(default=None, max_length=300)
    path: str | None = Field(default=None, max_length=2048)
    headings: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=50)
    description: str | None = Field(default=None, max_length=1000)
    # The page's language (its <html lang>, a BCP 47 tag such as "en" or "pt-BR").
    language: str | None = Field(default=None, max_length=35)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value and not is_page_url(value):
            raise ValueError("must be an http or https URL without whitespace, quotes or angle brackets")
        return value or None

    def is_empty(self) -> bool:
        return not (self.url or self.title or self.path or self.headings or self.description or self.language)

    def render(self) -> str:
        """The page as a delimited block of data for the model (docsdesk.core.blocks: JSON with
        every <, > and & escaped, so nothing the page sends can close the block)."""
        fields: dict[str, Any] = {}
        for key in ("title", "url", "path", "language", "description"):
            value = getattr(self, key)
            if value:
                fields[key] = _one_line(value)
        if self.headings:
            fields["headings"] = [_one_line(h) for h in self.headings]
        return data_block(PAGE_BLOCK, fields)


PAGE_BLOCK = "page_context"


def _one_line(value: str) -> str:
    return " ".join(value.split())


class PageContextError(ValueError):
    pass


def parse_page_context(metadata: dict[str, Any], max_bytes: int) -> PageContext | None:
    """Validate `metadata.page`; None when absent. Raises PageContextError naming the problem."""
    raw = metadata.get("page")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise PageContextError("metadata.page must be an object")
    size = len(json.dumps(raw, ensure_ascii=False).encode())
    if size > max_bytes:
        raise PageContextError(f"metadata.page is {size} bytes; the limit is {max_bytes}")
    try:
        page = PageContext.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PageContextError(f"metadata.page.{where}: {first['msg']}") from None
    return None if page.is_empty() else page
