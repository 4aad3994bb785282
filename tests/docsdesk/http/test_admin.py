"""The admin router: the token first, then slowapi's per-IP admin limit."""

from __future__ import annotations

from docsdesk.ops import ratelimit
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin, collection  # noqa: F401 - a fixture
from tests.docsdesk.ops.test_ops_http import assert_error


async def test_admin_api_is_limited_per_ip_after_the_token_check(settings, collection, monkeypatch):  # noqa: F811
    from pydantic import SecretStr

    from app import create_app
    from tests.support import LiveServer

    monkeypatch.setattr(ratelimit, "ADMIN_LIMIT", "3/minute")
    app = create_app(
        settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN), "collection": collection})
    )
    async with LiveServer(app) as live, admin(live.url) as http, admin(live.url, "wrong-token") as intruder:
        # A wrong token is a 401 and does not spend the budget.
        assert_error(await intruder.get("/admin/api/info"), 401, "invalid_admin_token")
        answered = [await http.get("/admin/api/info") for _ in range(3)]
        assert [r.status_code for r in answered] == [200, 200, 200]
        refused = await http.get("/admin/api/report", params={"days": "7"})
        error = assert_error(refused, 429, "rate_limited")
        assert "too many admin requests (limit: 3 per 1 minute)" in error["message"]
        assert int(refused.headers["Retry-After"]) >= 1
        # Parameter errors still come after authentication and the limit.
        assert_error(
            await intruder.get("/admin/api/report", params={"days": "x"}), 401, "invalid_admin_token"
        )
