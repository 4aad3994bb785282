"""POST /session over real HTTP: slowapi's route limit per client IP, in the documented error
shape; a renewal counts against the reader's own request budget."""

from __future__ import annotations

import httpx

from app import create_app
from tests.docsdesk.ops.test_ops_http import Scrape, assert_error, served
from tests.support import LiveServer


async def test_new_sessions_are_limited_per_ip_by_slowapi(settings):
    async with served(settings, rate_limit_sessions="3/minute") as (client, app):
        # The served client took one session already.
        scrape = await Scrape(client.http).start()
        answered = [await client.http.post("/session") for _ in range(2)]
        refused = await client.http.post("/session")
        await scrape.end()
        assert [r.status_code for r in answered] == [200, 200]
        error = assert_error(refused, 429, "rate_limited")
        assert "too many new sessions (limit: 3 per 1 minute)" in error["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert scrape.grew("docsdesk_rate_limited_total", limit="sessions") == 1
        assert scrape.grew("docsdesk_errors_total", code="rate_limited") == 1
        # A renewal is the reader's own budget, not the address's.
        renewed = await client.http.post("/session", headers=client.headers)
        assert renewed.status_code == 200 and renewed.json()["user_id"] == client.user_id


async def test_sessions_outside_anonymous_mode_are_not_found(settings):
    app = create_app(settings.model_copy(update={"auth_mode": "trusted-header"}))
    async with LiveServer(app) as live, httpx.AsyncClient(base_url=live.url) as http:
        assert_error(await http.post("/session"), 404, "not_found")
