"""The FastAPI application: `POST /chatkit`, `POST /session`, attachment uploads and previews,
docsdesk's own docs, the embed script, MCP (`/mcp`) and llms.txt, and (with DOCSDESK_ADMIN_TOKEN)
the admin console. The routes live in docsdesk/http/, one APIRouter each, with typed
dependencies (docsdesk.http.deps)."""

from __future__ import annotations

from fastapi import FastAPI

from docsdesk.core.settings import Settings, get_settings
from docsdesk.http import about, admin, attachments, chatkit, home, mcp, session
from docsdesk.http.embed import load_embed_script
from docsdesk.http.errors import install_error_handlers
from docsdesk.http.origins import install as install_origin_guard
from docsdesk.http.url_guard import RejectNulInUrl
from docsdesk.ops.access import install as install_operations
from docsdesk.ops.ratelimit import RateLimits
from lifespan import lifespan_for


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # The interactive API docs load Swagger UI and ReDoc from a CDN: off unless DOCSDESK_API_DOCS=1.
    # (FastAPI's own defaults when on.)
    app = FastAPI(
        title="docsdesk",
        lifespan=lifespan_for(settings),
        docs_url="/docs" if settings.api_docs else None,
        redoc_url="/redoc" if settings.api_docs else None,
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    app.state.settings = settings
    app.state.rate_limits = RateLimits(settings)
    app.state.embed_script = load_embed_script()
    app.add_middleware(RejectNulInUrl)  # a NUL in the URL is a 400, inside the access log
    install_operations(app, settings)  # probes, /metrics, CORS, request ids, access log
    install_origin_guard(app, settings)  # reader API: origins not allowed get 403 before any route
    install_error_handlers(app)
    routers = (home.router, session.router, about.router, chatkit.router, attachments.router, mcp.router)
    for router in routers:
        app.include_router(router)
    if settings.admin_token is not None:
        app.include_router(admin.router)  # the console and /admin/api/*
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app:app` works too; the app is built on first access with the environment's settings.
    if name == "app":
        return create_app()
    raise AttributeError(name)
