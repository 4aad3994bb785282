"""Hand-off channels: the `HandoffChannel` interface (in the style of chatkit-python's
`Store`), the registry that builds an assistant's channels from its `HandoffConfig`, and the
HTTP channels (webhook, GitHub issue, ticket API). SMTP email is in docsdesk.handoff.smtp.

Every channel's `deliver` retries a failed attempt with exponential backoff; what finally
fails raises `DeliveryError` naming the channel and the last problem."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from docsdesk.handoff.config import HandoffConfig
from docsdesk.handoff.ticket import Ticket

log = logging.getLogger("docsdesk.handoff")

SIGNATURE_HEADER = "X-Docsdesk-Signature"
MAX_RESPONSE_BYTES = 64_000


class DeliveryError(Exception):
    """A channel could not deliver a ticket after its attempts; `reason` says why."""

    def __init__(self, channel: str, reason: str) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason


class Retryable(Exception):
    """One attempt failed in a way another attempt may not (network, 5xx, 429)."""


def ticket_authorization(user: str | None, token: str) -> str:
    """The ticket API's Authorization header: Basic user:token with a user (Zendesk's and
    Freshdesk's API tokens), Bearer token without one."""
    if user is None:
        return f"Bearer {token}"
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode("ascii")


class HandoffChannel(ABC):
    """Where a ticket goes. `send` makes one attempt and returns a reference to what it
    created (an issue URL, a ticket id, a message id), raising `Retryable` for a failure worth
    retrying and any other exception for one that is not."""

    name: ClassVar[str]

    def __init__(self, config: HandoffConfig) -> None:
        self.config = config

    @abstractmethod
    async def send(self, ticket: Ticket) -> str:
        """One delivery attempt."""

    async def deliver(self, ticket: Ticket) -> str:
        """`send` with retries and exponential backoff; DeliveryError when all attempts fail."""
        attempts, delay = self.config.attempts, self.config.backoff_seconds
        for attempt in range(1, attempts + 1):
            try:
                return await self.send(ticket)
            except Retryable as exc:
                reason = str(exc)
            except Exception as exc:  # reported, never raised to the reader
                raise DeliveryError(self.name, f"{type(exc).__name__}: {exc}") from exc
            log.warning("hand-off %s attempt %d/%d failed: %s", self.name, attempt, attempts, reason)
            if attempt < attempts:
                await asyncio.sleep(delay * 2 ** (attempt - 1))
        raise DeliveryError(self.name, reason)


ChannelFactory = Callable[[HandoffConfig], HandoffChannel | None]
_FACTORIES: dict[str, ChannelFactory] = {}


def register_channel(name: str, factory: ChannelFactory) -> None:
    """Add a channel kind: `factory(config)` returns the channel, or None when not configured."""
    _FACTORIES[name] = factory


def channels_for(config: HandoffConfig) -> list[HandoffChannel]:
    """The channels `config` turns on, in registration order."""
    built = (factory(config) for factory in _FACTORIES.values())
    return [channel for channel in built if channel is not None]


# --- HTTP channels -------------------------------------------------------------------------


async def post_json(url: str, body: bytes, headers: dict[str, str], seconds: float) -> dict[str, Any]:
    """POST `body`; the JSON answer (or {}). 5xx, 429 and network failures are Retryable;
    other non-2xx statuses are final."""
    try:
        async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as http:
            response = await http.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
    except httpx.HTTPError as exc:
        raise Retryable(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise Retryable(f"HTTP {response.status_code}")
    if response.status_code >= 300:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    try:
        answer = json.loads(response.content[:MAX_RESPONSE_BYTES]) if response.content else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(HandoffChannel):
    """A JSON POST of the ticket to the configured URL (never one from the request), signed
    with the webhook secret when one is set."""

    name = "webhook"

    async def send(self, ticket: Ticket) -> str:
        assert self.config.webhook_url is not None
        body = json.dumps(ticket.as_json(), ensure_ascii=False).encode()
        headers = {}
        if self.config.webhook_secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.config.webhook_secret.get_secret_value(), body)
        await post_json(self.config.webhook_url, body, headers, self.config.timeout_seconds)
        return self.config.webhook_url


class GitHubIssueChannel(HandoffChannel):
    """An issue in the configured repository (REST API: POST /repos/{owner}/{repo}/issues)."""

    name = "github"

    async def send(self, ticket: Ticket) -> str:
        assert self.config.github_repo is not None
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if self.config.github_token is not None:
            headers["Authorization"] = f"Bearer {self.config.github_token.get_secret_value()}"
        body = {"title": ticket.subject, "body": ticket.as_text(), "labels": ["docsdesk"]}
        url = f"{self.config.github_api_url.rstrip('/')}/repos/{self.config.github_repo}/issues"
        answer = await post_json(url, json.dumps(body).encode(), headers, self.config.timeout_seconds)
        return str(answer.get("html_url") or answer.get("number") or url)


class TicketApiChannel(HandoffChannel):
    """A "create ticket" JSON API shaped like Zendesk's (`{"ticket": {subject, comment:
    {body}, requester: {email}}}`), which Freshdesk-style endpoints accept through its flat
    fields too (`subject`, `description`, `email`)."""

    name = "ticket_api"

    async def send(self, ticket: Ticket) -> str:
        assert self.config.ticket_api_url is not None
        headers = {}
        if self.config.ticket_api_token is not None:
            headers["Authorization"] = ticket_authorization(
                self.config.ticket_api_user, self.config.ticket_api_token.get_secret_value()
            )
        text = ticket.as_text()
        body = {
            "ticket": {
                "subject": ticket.subject,
                "comment": {"body": text},
                "requester": {"email": ticket.email},
                "tags": ["docsdesk", ticket.assistant],
                "external_id": f"docsdesk-{ticket.handoff_id}",
            },
            "subject": ticket.subject,
            "description": text,
            "email": ticket.email,
        }
        answer = await post_json(
            self.config.ticket_api_url, json.dumps(body).encode(), headers, self.config.timeout_seconds
        )
        nested = answer.get("ticket")
        created: dict[str, Any] = nested if isinstance(nested, dict) else answer
        return str(created.get("id", "")) or self.config.ticket_api_url


register_channel("webhook", lambda c: WebhookChannel(c) if c.webhook_url else None)
register_channel("github", lambda c: GitHubIssueChannel(c) if c.github_repo else None)
register_channel("ticket_api", lambda c: TicketApiChannel(c) if c.ticket_api_url else None)
