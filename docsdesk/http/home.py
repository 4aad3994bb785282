"""`GET /`: a page to try the assistant (docsdesk/static/index.html). No build step: the page
loads ChatKit from OpenAI's CDN and connects it through `/embed.js`, with the domain key
"local-dev" on localhost and a field for the operator's key elsewhere; it says so when the CDN
script cannot load. Strict CSP: its one inline script and style are allowed by their hashes,
scripts otherwise only from this server and the CDN."""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()

CDN = "https://cdn.platform.openai.com"


def _hashes(html: str, tag: str) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
    )


@cache
def home_page() -> tuple[str, str]:
    """(the page, its Content-Security-Policy)."""
    html = files("docsdesk.static").joinpath("index.html").read_text(encoding="utf-8")
    csp = (
        f"default-src 'none'; script-src 'self' {CDN} {_hashes(html, 'script')}; "
        f"style-src {_hashes(html, 'style')}; connect-src 'self'; frame-src {CDN}; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, csp


@router.get("/", include_in_schema=False)
async def home() -> HTMLResponse:
    html, csp = home_page()
    return HTMLResponse(html, headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff"})
