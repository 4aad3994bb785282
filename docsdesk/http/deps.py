"""What the routes depend on, as typed FastAPI dependencies (`Annotated[..., Depends(...)]`
aliases): the running services, the request's telemetry, the authenticated caller.

    async def route(services: ServicesDep, identity: CurrentIdentity, telemetry: Telemetry): ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol

from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.types import ChatKitReq
from fastapi import Depends, Request

from chatkit_store import PostgresStore
from chatkit_store.attachments import AttachmentFiles
from docsdesk.assistant.definition import Assistants
from docsdesk.core.config_file import DeploymentConfig
from docsdesk.core.context import Identity, RequestContext, RequestTelemetry
from docsdesk.core.database import Database
from docsdesk.core.errors import ApiError
from docsdesk.core.settings import Settings
from docsdesk.http.auth import Authenticator, AuthError
from docsdesk.insights.turns import TurnRecorder
from docsdesk.mcp.service import McpService
from docsdesk.ops.access import telemetry_of
from docsdesk.ops.ratelimit import RateLimits
from rag.search import DocsSearch


class ChatKitProcessor(Protocol):
    """The ChatKit server as the routes use it (chatkit_server.DocsDeskServer)."""

    async def process_request(
        self, request: ChatKitReq, context: RequestContext, body: bytes | None = None
    ) -> StreamingResult | NonStreamingResult: ...


@dataclass
class Services:
    """Everything a running app holds, built at start-up (lifespan.py)."""

    settings: Settings
    database: Database
    store: PostgresStore
    authenticator: Authenticator
    search: DocsSearch
    server: ChatKitProcessor
    attachments: AttachmentFiles
    recorder: TurnRecorder
    assistants: Assistants
    mcp: McpService  # /mcp and llms.txt (docsdesk.http.mcp)
    # Re-reads the config file and swaps the assistants (lifespan.reload_assistants); set at start-up.
    reload: Callable[[], Awaitable[DeploymentConfig]] | None = None


async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_settings_of(request: Request) -> Settings:
    return request.app.state.settings


async def get_rate_limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits


async def get_telemetry(request: Request) -> RequestTelemetry:
    return telemetry_of(request)


async def current_identity(request: Request, services: ServicesDep, telemetry: Telemetry) -> Identity:
    """The authenticated caller (401/403/503 in the documented error shape otherwise)."""
    try:
        identity = await services.authenticator.authenticate(request.headers)
    except AuthError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        raise ApiError(exc.status_code, exc.code, exc.message, headers) from None
    telemetry.identity = identity  # hashed in the access line
    return identity


# The getters are `async def` although they do not wait: FastAPI runs a plain `def` dependency
# in its thread pool, a thread hand-off per dependency on every request.
ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings_of)]
Limits = Annotated[RateLimits, Depends(get_rate_limits)]
Telemetry = Annotated[RequestTelemetry, Depends(get_telemetry)]
CurrentIdentity = Annotated[Identity, Depends(current_identity)]


def request_context(
    request: Request, identity: Identity, telemetry: RequestTelemetry, **fields
) -> RequestContext:
    """The context the store and the assistant get for this request."""
    return RequestContext(
        user_id=identity.user_id,
        tenant_id=identity.tenant_id,
        email=identity.email,
        request_id=telemetry.request_id,
        base_url=str(request.base_url).rstrip("/"),
        telemetry=telemetry,
        **fields,
    )
