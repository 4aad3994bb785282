"""The interactive API docs (/docs, /redoc, /openapi.json load Swagger UI and ReDoc from a CDN):
off unless DOCSDESK_API_DOCS=1."""

from __future__ import annotations

import httpx

from app import create_app
from docsdesk.core.settings import Settings
from tests.support import LiveServer


async def test_interactive_api_docs_are_off_unless_enabled(settings):
    async with LiveServer(create_app(settings)) as live, httpx.AsyncClient(base_url=live.url) as http:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await http.get(path)).status_code == 404
    enabled = create_app(settings.model_copy(update={"api_docs": True}))
    async with LiveServer(enabled) as live, httpx.AsyncClient(base_url=live.url) as http:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await http.get(path)).status_code == 200
    assert Settings(_env_file=None, api_docs="1").api_docs is True
