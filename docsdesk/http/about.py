"""`GET /about/{name}`: docsdesk's own documentation (what a fresh server indexes and cites),
and `GET /embed.js`, the browser script (docsdesk.http.embed)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from docsdesk.core.errors import ApiError
from docsdesk.http.embed import EmbedScript
from docsdesk.own_docs import own_docs

router = APIRouter()


@router.get("/about/{name}")
async def about(name: str) -> Response:
    """docsdesk's own documentation (what a fresh server indexes and cites)."""
    page = own_docs().get(name)
    if page is None:
        raise ApiError(404, "not_found", f"no document named {name!r}")
    text = await asyncio.to_thread(page.read_text, encoding="utf-8")
    return Response(text, media_type="text/markdown; charset=utf-8")


@router.api_route("/embed.js", methods=["GET", "HEAD"], include_in_schema=False)
async def embed_script(request: Request) -> Response:
    """The browser script that connects ChatKit to docsdesk (docsdesk/static/embed.js)."""
    script: EmbedScript = request.app.state.embed_script
    return script.response(request)
