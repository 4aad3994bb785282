"""The FastAPI application: `POST /chatkit`, `POST /session`, attachment uploads and previews,
docsdesk's own docs, the embed script, MCP (`/mcp`) and llms.txt, and (with DOCSDESK_ADMIN_TOKEN)
the admin console. The routes live in docsdesk/http/, one APIRouter each, with typed
dependencies (docsdesk.http.deps)."""

from __future__ import annotations

from fastapi import FastAPI

from docsdesk.core.config_file import load_config
from docsdesk.core.settings import Settings, get_settings
from docsdesk.http import about, admin, attachments, chatkit, home, mcp, session, start_screen
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
    deployed = load_config(settings)  # the assistants' file: a mistake fails here, one line each
    # Reader API: origins not allowed (by DOCSDESK_CORS_ORIGINS or the assistant's `origins`) get 403.
    install_origin_guard(app, settings, assistants_file=deployed.path is not None)
    install_error_handlers(app)
    routers = (home, session, about, chatkit, attachments, start_screen, mcp)
    for router in (module.router for module in routers):
        app.include_router(router)
    if settings.admin_token is not None:
        app.include_router(admin.router)  # the console and /admin/api/*
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app:app` works too; the app is built on first access with the environment's settings.
    if name == "app":
        return create_app()
    raise AttributeError(name)
