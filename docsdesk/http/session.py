"""`POST /session`: anonymous reader sessions (see docs/embedding.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from docsdesk.core.context import Identity
from docsdesk.core.errors import ApiError
from docsdesk.http.auth import AuthError
from docsdesk.http.deps import Limits, ServicesDep, SettingsDep

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


@router.post("/session")
async def session(request: Request, services: ServicesDep, settings: SettingsDep, limits: Limits) -> Response:
    """A new anonymous session; with `Authorization: Bearer <current token>`, the same
    reader's session renewed."""
    if settings.auth_mode != "anonymous":
        raise ApiError(
            404, "not_found", f"sessions are issued only in anonymous mode (mode: {settings.auth_mode})"
        )
    authenticator = services.authenticator
    if "authorization" not in request.headers:
        await limits.check_session(request)
        return JSONResponse(authenticator.issue_session(), headers=NO_STORE)
    try:
        renewed = authenticator.renew_session(request.headers)
    except AuthError as exc:
        raise ApiError(exc.status_code, exc.code, exc.message, {"WWW-Authenticate": "Bearer"}) from None
    await limits.check_renewal(Identity(user_id=renewed["user_id"]))
    return JSONResponse(renewed, headers=NO_STORE)
