"""Reader origins: DOCSDESK_CORS_ORIGINS normalised as browsers send origins; a request from an
origin that is not allowed is refused (403 naming it) before it creates anything, preflights
included, with one warning per origin per minute; and the same in headless Chromium, with the
console messages docs/embedding.md quotes."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from app import create_app
from docsdesk.core.settings import Settings
from tests.support import LiveServer
from tests.support.chatkit_client import user_input
from tests.support.static_site import StaticSite

SITE = "https://docs.example.com"
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}


def with_origins(settings: Settings, value: str, **overrides) -> Settings:
    """`settings` with DOCSDESK_CORS_ORIGINS=`value`, read as from the environment."""
    origins = Settings(_env_file=None, cors_origins=value).cors_origins
    return settings.model_copy(update={"cors_origins": origins, **overrides})


def create_thread() -> str:
    return json.dumps({"type": "threads.create", "params": {"input": user_input("Hello?")}})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://localhost:18110/", ["http://localhost:18110"]),
        (
            "HTTPS://Docs.Example.com:443/, http://127.0.0.1:80",
            ["https://docs.example.com", "http://127.0.0.1"],
        ),
        ("https://a.example,https://a.example/", ["https://a.example"]),
        ("*", ["*"]),
    ],
)
def test_origins_are_normalised(value, expected):
    assert Settings(_env_file=None, cors_origins=value).cors_origins == expected


@pytest.mark.parametrize(
    "value",
    ["localhost:8000", "docs.example.com", "https://docs.example.com/help", "ftp://x.example", "null"],
)
def test_a_value_that_is_not_an_origin_is_refused(value):
    with pytest.raises(ValueError, match="is not an origin"):
        Settings(_env_file=None, cors_origins=value)


async def test_a_trailing_slash_in_the_setting_still_allows_the_site(settings):
    app = create_app(with_origins(settings, f"{SITE}/"))
    async with LiveServer(app) as live, httpx.AsyncClient(base_url=live.url) as http:
        preflight = await http.options("/chatkit", headers={"Origin": SITE, **PREFLIGHT})
        assert preflight.status_code == 200 and preflight.headers["Access-Control-Allow-Origin"] == SITE
        session = await http.post("/session", headers={"Origin": SITE})
        assert session.status_code == 200 and session.headers["Access-Control-Allow-Origin"] == SITE


async def test_an_origin_not_allowed_creates_nothing(settings, caplog):
    # Three new sessions a minute per address (one for the token below, two for the site):
    # refused requests must not use them up.
    app = create_app(with_origins(settings, SITE, rate_limit_sessions="3/minute"))
    issued: list[str] = []
    async with LiveServer(app) as live, httpx.AsyncClient(base_url=live.url) as http:
        authenticator = app.state.services.authenticator
        issue = authenticator.issue_session
        authenticator.issue_session = lambda user_id=None: issued.append("x") or issue(user_id)
        token = (await http.post("/session")).json()["token"]  # no Origin: not a browser page
        issued.clear()
        caplog.set_level(logging.WARNING, logger="docsdesk.origins")
        for _ in range(5):
            refused = await http.post("/session", headers={"Origin": "http://localhost:18110"})
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "origin_not_allowed"
            assert "http://localhost:18110" in refused.json()["error"]["message"]
            assert "Access-Control-Allow-Origin" not in refused.headers
        assert issued == []
        bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        evil = {"Origin": "https://evil.example", **bearer}
        thread = await http.post("/chatkit", content=create_thread(), headers=evil)
        assert thread.status_code == 403
        preflight = await http.options("/chatkit", headers={"Origin": "https://evil.example", **PREFLIGHT})
        assert preflight.status_code == 403 and "https://evil.example" in preflight.text
        listed = await http.post(
            "/chatkit", content=json.dumps({"type": "threads.list", "params": {}}), headers=bearer
        )
        assert listed.json()["data"] == []  # the refused turn made no thread
        # The allowed site still gets its two sessions: the refusals counted nothing.
        for _ in range(2):
            assert (await http.post("/session", headers={"Origin": SITE})).status_code == 200
        assert (await http.post("/session", headers={"Origin": SITE})).status_code == 429
    warnings = [r.getMessage() for r in caplog.records if r.name == "docsdesk.origins"]
    assert len(warnings) == 2  # one per origin per minute
    assert "add it: DOCSDESK_CORS_ORIGINS=https://docs.example.com,http://localhost:18110" in warnings[0]
    assert "https://evil.example" in warnings[1]


async def test_this_servers_own_pages_and_non_browser_clients_pass(settings):
    app = create_app(settings.model_copy(update={"cors_origins": []}))
    async with LiveServer(app) as live, httpx.AsyncClient(base_url=live.url) as http:
        assert (await http.post("/session")).status_code == 200
        assert (await http.post("/session", headers={"Origin": live.url})).status_code == 200
        same_site = {"Origin": "https://assistant.example.com", "Sec-Fetch-Site": "same-origin"}
        assert (await http.post("/session", headers=same_site)).status_code == 200
        assert (await http.post("/session", headers={"Origin": "null"})).status_code == 403
        # Only the reader API is guarded: the probes answer any page.
        assert (await http.get("/healthz", headers={"Origin": "https://evil.example"})).status_code == 200


async def test_any_origin_with_a_star(settings):
    app = create_app(with_origins(settings, "*"))
    async with LiveServer(app) as live, httpx.AsyncClient(base_url=live.url) as http:
        response = await http.post("/session", headers={"Origin": "https://anyone.example"})
        assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"


BROWSER_CALL = """
const done = arguments[arguments.length - 1];
const fetcher = window.docsdesk.createFetch({ url: arguments[0] });
fetcher(arguments[0], { method: "POST", headers: { "Content-Type": "application/json" }, body: arguments[1] })
  .then((r) => done({ status: r.status }), (e) => done({ error: String(e) }));
"""


BROWSER_CALL_WITH_TOKEN = BROWSER_CALL.replace(
    "createFetch({ url: arguments[0] })", 'createFetch({ url: arguments[0], getToken: () => "a-token" })'
)


def page_with_embed(server: str) -> str:
    return f'<!doctype html><html><head><script src="{server}/embed.js"></script></head><body></body></html>'


def console_errors(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


async def test_in_a_browser_an_origin_not_allowed_is_a_cors_error_and_no_session(settings, tmp_path, browser):
    import asyncio

    with StaticSite(tmp_path / "site") as site:
        app = create_app(with_origins(settings, SITE))
        async with LiveServer(app) as live:
            authenticator = app.state.services.authenticator
            issued: list[str] = []
            issue = authenticator.issue_session
            authenticator.issue_session = lambda user_id=None: issued.append("x") or issue(user_id)
            # The server runs on this event loop: the browser is driven from a thread.
            await asyncio.to_thread(browser.get, site.write("index.html", page_with_embed(live.url)))
            result = await asyncio.to_thread(
                browser.execute_async_script, BROWSER_CALL, f"{live.url}/chatkit", create_thread()
            )
            assert "Failed to fetch" in result.get("error", ""), result
            assert issued == []
            errors = await asyncio.to_thread(console_errors, browser)
            blocked = f"from origin '{site.origin}' has been blocked by CORS policy"
            assert any(f"{live.url}/session" in e and blocked in e for e in errors), errors
            assert any(f"{live.url}/session - Failed to load resource: net::ERR_FAILED" in e for e in errors)
            # With a token (a reader who has a session, JWT mode) the request is preflighted.
            result = await asyncio.to_thread(
                browser.execute_async_script, BROWSER_CALL_WITH_TOKEN, f"{live.url}/chatkit", create_thread()
            )
            assert "Failed to fetch" in result.get("error", ""), result
            errors += await asyncio.to_thread(console_errors, browser)
            preflight = "Response to preflight request doesn't pass access control check"
            assert any(f"{live.url}/chatkit" in e and preflight in e for e in errors), errors
            print("\n".join(errors))  # the messages docs/embedding.md quotes


async def test_in_a_browser_a_trailing_slash_in_the_setting_works(settings, tmp_path, browser):
    import asyncio

    with StaticSite(tmp_path / "site") as site:
        app = create_app(with_origins(settings, f"{site.origin}/"))
        async with LiveServer(app) as live:
            # The server runs on this event loop: the browser is driven from a thread.
            await asyncio.to_thread(browser.get, site.write("index.html", page_with_embed(live.url)))
            body = json.dumps({"type": "threads.list", "params": {}})
            result = await asyncio.to_thread(
                browser.execute_async_script, BROWSER_CALL, f"{live.url}/chatkit", body
            )
            assert result == {"status": 200}
