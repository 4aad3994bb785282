"""`GET /` in headless Chromium: the page loads /embed.js under its strict CSP, connects the
widget (a stand-in `openai-chatkit`, since OpenAI's CDN is unreachable here) with the
"local-dev" domain key, and tells the reader the widget script could not load."""

from __future__ import annotations

import asyncio
import time

import httpx

from app import create_app
from tests.support import LiveServer

CDN = "https://cdn.platform.openai.com/*"
STAND_IN = """customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) { this.options = options; window.__setOptionsCalls = (window.__setOptionsCalls || 0) + 1; }
});"""


async def test_home_page_has_a_strict_csp(settings):
    async with LiveServer(create_app(settings)) as live, httpx.AsyncClient(base_url=live.url) as http:
        response = await http.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self' https://cdn.platform.openai.com 'sha256-" in csp
    assert "frame-ancestors 'none'" in csp
    assert 'href="/admin' in response.text and 'href="/about/index.md"' in response.text


def wait_for(browser, script: str, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = browser.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def visit_offline(browser, url: str, stand_in: bool) -> None:
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": [CDN]})
    if stand_in:
        browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STAND_IN})
    browser.get(url + "/")


async def test_home_page_connects_the_widget_and_says_when_the_cdn_is_unreachable(settings, browser):
    async with LiveServer(create_app(settings)) as live:
        await asyncio.to_thread(visit_offline, browser, live.url, True)
        options = await asyncio.to_thread(
            wait_for,
            browser,
            "const c = document.getElementById('chat'); return c.options && "
            "{url: c.options.api.url, domainKey: c.options.api.domainKey, fetch: typeof c.options.api.fetch};",
        )
        assert options == {"url": live.url + "/chatkit", "domainKey": "local-dev", "fetch": "function"}
        notice = await asyncio.to_thread(
            wait_for,
            browser,
            "const n = document.getElementById('offline'); return !n.hidden && n.innerText;",
        )
        assert "could not be loaded" in notice and "playground" in notice
        loaded = browser.execute_script(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname);"
        )
        assert "/embed.js" in loaded
        assert browser.execute_script("return typeof window.docsdesk.createFetch") == "function"
        assert browser.execute_script("return window.__setOptionsCalls") == 1
        assert browser.execute_script("return document.getElementById('domain').hidden") is True
        violations = [e for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
        assert violations == []
