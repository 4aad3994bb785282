"""`GET /about/{name}`: docsdesk's own documentation (what a fresh server indexes and cites),
and `GET /embed.js`, the browser script (docsdesk.http.embed)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from docsdesk.core.errors import ApiError
from docsdesk.http.embed import EmbedScript
from docsdesk.own_docs import own_docs
from docsdesk.own_docs.render import CONTENT_SECURITY_POLICY, render_page, wants_markdown

router = APIRouter()


@router.get("/about/{name}")
async def about(name: str, request: Request, format: str | None = None) -> Response:
    """docsdesk's own documentation (what a fresh server indexes and cites): HTML with the
    anchors citations use; the Markdown with `?format=md` or `Accept: text/markdown`."""
    page = own_docs().get(name)
    if page is None:
        raise ApiError(404, "not_found", f"no document named {name!r}")
    text = await asyncio.to_thread(page.read_text, encoding="utf-8")
    if wants_markdown(format, request.headers.get("accept", "")):
        return Response(text, media_type="text/markdown; charset=utf-8", headers={"Vary": "Accept"})
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Vary": "Accept"}
    return HTMLResponse(render_page(text, name), headers=headers)


@router.api_route("/embed.js", methods=["GET", "HEAD"], include_in_schema=False)
async def embed_script(request: Request) -> Response:
    """The browser script that connects ChatKit to docsdesk (docsdesk/static/embed.js)."""
    script: EmbedScript = request.app.state.embed_script
    return script.response(request)
