"""docs/embedding.md's Content-Security-Policy directives, in headless Chromium: a page whose
policy has them reaches docsdesk; a page missing `script-src` or `connect-src` for docsdesk fails
with the console messages the troubleshooting section quotes."""

from __future__ import annotations

import asyncio
import json

from app import create_app
from tests.docsdesk.http.test_origins import BROWSER_CALL, console_errors, with_origins
from tests.support import LiveServer
from tests.support.static_site import StaticSite

CDN = "https://cdn.platform.openai.com"
LIST_THREADS = json.dumps({"type": "threads.list", "params": {}})


def page(server: str, policy: str) -> str:
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    return f'<!doctype html><html><head>{meta}<script src="{server}/embed.js"></script></head><body></body></html>'


async def visit(browser, site: StaticSite, server: str, policy: str) -> tuple[dict | None, list[str]]:
    """Load a page with `policy`; the result of one docsdesk request from it (None when the
    embed script did not load) and the console errors."""
    await asyncio.to_thread(browser.get, site.write("index.html", page(server, policy)))
    # A new reader each time (no session kept from the previous visit).
    loaded = await asyncio.to_thread(browser.execute_script, "localStorage.clear(); return !!window.docsdesk")
    result = None
    if loaded:
        result = await asyncio.to_thread(
            browser.execute_async_script, BROWSER_CALL, f"{server}/chatkit", LIST_THREADS
        )
    return result, await asyncio.to_thread(console_errors, browser)


async def test_the_documented_policy_works_and_each_missing_directive_is_named(settings, tmp_path, browser):
    with StaticSite(tmp_path / "site") as site:
        app = create_app(with_origins(settings, site.origin))
        async with LiveServer(app) as live:
            documented = f"default-src 'self'; script-src 'self' {CDN} {live.url}; connect-src 'self' {live.url}; frame-src {CDN}"
            result, errors = await visit(browser, site, live.url, documented)
            assert result == {"status": 200}, errors

            result, errors = await visit(browser, site, live.url, "script-src 'self'")
            assert result is None
            # Chromium words it "Loading the script '…' violates …" (older: "Refused to load …").
            refused_script = (
                f"'{live.url}/embed.js' violates the following Content Security Policy directive: "
                "\"script-src 'self'\""
            )
            assert any(refused_script in e for e in errors), errors

            result, errors = await visit(
                browser, site, live.url, f"script-src 'self' {live.url}; connect-src 'self'"
            )
            assert "Failed to fetch" in (result or {}).get("error", ""), result
            refused_connect = (
                f"'{live.url}/session' violates the following Content Security Policy directive: "
                "\"connect-src 'self'\""
            )
            assert any(refused_connect in e for e in errors), errors
            print("\n".join(errors))  # the messages docs/embedding.md quotes
