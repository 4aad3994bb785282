"""MCP over Streamable HTTP (`/mcp`, `/a/{name}/mcp`) and llms.txt (`/llms.txt`,
`/llms-full.txt`, `/a/{name}/llms.txt`, `/a/{name}/llms-full.txt`): docsdesk.mcp's routes.

`/mcp` serves the assistant of the bearer key (or, without one, the default assistant when it
is public); `/a/{name}/...` serves assistant `name`, to its keys only (or anyone when public).
Every request: the key looked up in the database (unknown, revoked or expired: 401), then the
per-key rate limit (slowapi's route limit "mcp"; per client address without a key: 429), then,
for /mcp, the SDK's session manager, which writes the response itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from docsdesk.core.context import DEFAULT_ASSISTANT, Identity
from docsdesk.core.errors import ApiError
from docsdesk.http.deps import Limits, ServicesDep, Telemetry
from docsdesk.mcp.assistants import NAME, McpAssistant
from docsdesk.mcp.keys import KeyRefused
from docsdesk.mcp.server import PRINCIPAL_STATE
from docsdesk.mcp.service import McpService
from docsdesk.mcp.tools import Principal
from docsdesk.ops.observability import hash_user

MCP_METHODS = ["GET", "POST", "DELETE"]  # Streamable HTTP: requests, the event stream, session end


def _unauthorised(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, {"WWW-Authenticate": 'Bearer realm="docsdesk"'})


def _assistant(service: McpService, name: str) -> McpAssistant:
    assistant = service.assistants.get(name) if NAME.fullmatch(name) else None
    if assistant is None:
        raise ApiError(404, "not_found", f"no assistant named {name[:64]!r}")
    return assistant


async def authorise(
    request: Request, service: McpService, telemetry: Telemetry, name: str | None
) -> Principal:
    """The caller of `/mcp` (`name` None) or `/a/{name}/...`: ApiError 401 (no, unknown,
    revoked or expired key), 403 (another assistant's key), 404 (no such assistant)."""
    header = request.headers.get("authorization")
    if header is None:
        assistant = _assistant(service, name or DEFAULT_ASSISTANT)
        if not assistant.public:
            raise _unauthorised(
                "missing_key", "send an API key as `Authorization: Bearer <key>` (docsdesk keys create)"
            )
        who = hash_user(service.salt, f"mcp-anonymous:{telemetry.client_ip}")
        return Principal(assistant.name, None, who)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorised("invalid_authorization", "the Authorization header must be `Bearer <key>`")
    try:
        key = await service.keys.verify(token.strip())
    except KeyRefused as exc:
        raise _unauthorised(exc.code, exc.message) from None
    if name is not None and key.assistant != name:
        _assistant(service, name)  # an unknown assistant is a 404 either way
        raise ApiError(403, "wrong_assistant", f"this key is for assistant {key.assistant!r}, not {name!r}")
    _assistant(service, key.assistant)
    telemetry.identity = Identity(user_id=f"mcp-key:{key.id}")  # the rate-limit key; hashed in logs
    return Principal(key.assistant, key.id, hash_user(service.salt, f"mcp-key:{key.id}"))


async def default_caller(
    request: Request, services: ServicesDep, telemetry: Telemetry, limits: Limits
) -> Principal:
    principal = await authorise(request, services.mcp, telemetry, None)
    await limits.check_route("mcp", request)
    return principal


async def named_caller(
    name: str, request: Request, services: ServicesDep, telemetry: Telemetry, limits: Limits
) -> Principal:
    principal = await authorise(request, services.mcp, telemetry, name)
    await limits.check_route("mcp", request)
    return principal


DefaultCaller = Annotated[Principal, Depends(default_caller)]
NamedCaller = Annotated[Principal, Depends(named_caller)]


class McpExchange(Response):
    """The response to an /mcp request: the SDK's session manager reads the request body and
    writes the answer itself; the tools find the caller on the request's state."""

    def __init__(self, service: McpService, principal: Principal) -> None:
        super().__init__()
        self.service = service
        self.principal = principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})[PRINCIPAL_STATE] = self.principal
        await self.service.server.session_manager.handle_request(scope, receive, send)


router = APIRouter()


@router.api_route("/mcp", methods=MCP_METHODS, include_in_schema=False)
async def mcp(services: ServicesDep, caller: DefaultCaller) -> Response:
    return McpExchange(services.mcp, caller)


@router.api_route("/a/{name}/mcp", methods=MCP_METHODS, include_in_schema=False)
async def assistant_mcp(services: ServicesDep, caller: NamedCaller) -> Response:
    return McpExchange(services.mcp, caller)


async def llms_response(
    request: Request, service: McpService, principal: Principal, *, full: bool
) -> Response:
    assistant = _assistant(service, principal.assistant)
    collections = await assistant.collections()
    rendered = await service.llms.get(assistant.name, collections, full=full)
    headers = {"ETag": rendered.etag, "Cache-Control": "no-cache", "Vary": "Authorization"}
    if request.headers.get("if-none-match") == rendered.etag:
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="text/plain; charset=utf-8", headers=headers)


@router.get("/llms.txt", include_in_schema=False)
async def llms_txt(request: Request, services: ServicesDep, caller: DefaultCaller) -> Response:
    return await llms_response(request, services.mcp, caller, full=False)


@router.get("/llms-full.txt", include_in_schema=False)
async def llms_full_txt(request: Request, services: ServicesDep, caller: DefaultCaller) -> Response:
    return await llms_response(request, services.mcp, caller, full=True)


@router.get("/a/{name}/llms.txt", include_in_schema=False)
async def assistant_llms_txt(request: Request, services: ServicesDep, caller: NamedCaller) -> Response:
    return await llms_response(request, services.mcp, caller, full=False)


@router.get("/a/{name}/llms-full.txt", include_in_schema=False)
async def assistant_llms_full_txt(request: Request, services: ServicesDep, caller: NamedCaller) -> Response:
    return await llms_response(request, services.mcp, caller, full=True)
