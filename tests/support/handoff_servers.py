"""Real local servers a hand-off is delivered to: a webhook receiver that checks the
signature, stand-ins for the GitHub issues API and a Zendesk-shaped ticket API (one HTTP
app), and an aiosmtpd SMTP server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.support import LiveServer, free_port

WEBHOOK_SECRET = "hook-secret-0123456789"
GITHUB_TOKEN = "ghp_test_token"
TICKET_TOKEN = "ticket-token"
TICKET_USER = "agent@acme.test/token"  # Zendesk's API-token user (Basic auth)


@dataclass
class Received:
    hooks: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    issues: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    hook_failures: int = 0  # answer 503 to this many webhook requests first
    hook_requests: int = 0


def receiver_app(received: Received) -> FastAPI:
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> JSONResponse:
        received.hook_requests += 1
        body = await request.body()
        expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-docsdesk-signature", ""), expected):
            received.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        if received.hook_failures > 0:
            received.hook_failures -= 1
            return JSONResponse({"error": "try later"}, status_code=503)
        received.hooks.append(json.loads(body))
        return JSONResponse({"ok": True})

    @app.post("/repos/{owner}/{repo}/issues")
    async def issue(owner: str, repo: str, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {GITHUB_TOKEN}":
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        body = await request.json()
        received.issues.append({"repo": f"{owner}/{repo}", **body})
        number = len(received.issues)
        return JSONResponse(
            {"number": number, "html_url": f"https://github.example/{owner}/{repo}/issues/{number}"},
            status_code=201,
        )

    @app.post("/api/v2/tickets.json")
    async def ticket(request: Request) -> JSONResponse:
        basic = "Basic " + base64.b64encode(f"{TICKET_USER}:{TICKET_TOKEN}".encode()).decode()
        if request.headers.get("authorization") not in (f"Bearer {TICKET_TOKEN}", basic):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        received.tickets.append(await request.json())
        return JSONResponse({"ticket": {"id": 1000 + len(received.tickets)}}, status_code=201)

    return app


@asynccontextmanager
async def receiver():
    """(url, Received) of the webhook / GitHub / ticket API stand-in, served over real HTTP."""
    received = Received()
    async with LiveServer(receiver_app(received)) as live:
        yield live.url, received


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server():
    """(smtp_url, Mailbox) of a real aiosmtpd SMTP server on a loopback port."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox
    finally:
        controller.stop()
