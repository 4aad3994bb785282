"""Failed admin authentications are limited per client IP (issue 23, item 6): 3,000 wrong
tokens used to be 3,000 401s."""

from __future__ import annotations

import logging

from docsdesk.ops.ratelimit import ADMIN_FAILURES_LIMIT
from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin, collection  # noqa: F401 - a fixture
from tests.docsdesk.ops.test_ops_http import assert_error

FAILURES = int(ADMIN_FAILURES_LIMIT.split("/")[0])


async def test_failed_admin_authentications_are_limited_per_client_ip(settings, collection, caplog):  # noqa: F811
    from pydantic import SecretStr

    from app import create_app
    from tests.support import LiveServer

    caplog.set_level(logging.WARNING, logger="docsdesk.admin")
    app = create_app(
        settings.model_copy(
            update={
                "admin_token": SecretStr(ADMIN_TOKEN),
                "collection": collection,
                "trusted_proxies": ["127.0.0.1/32"],
            }
        )
    )
    guesser = {"X-Forwarded-For": "203.0.113.7"}
    async with (
        LiveServer(app) as live,
        admin(live.url, token="wrong-guess") as wrong,
        admin(live.url) as right,
    ):
        # No credential at all is not a guess: it is never counted.
        for _ in range(FAILURES + 5):
            anonymous = await right.get("/admin/api/info", headers={**guesser, "Authorization": ""})
            assert anonymous.status_code == 401
        codes = [(await wrong.get("/admin/api/info", headers=guesser)).status_code for _ in range(FAILURES)]
        assert codes == [401] * FAILURES
        for _ in range(30):
            refused = await wrong.get("/admin/api/info", headers=guesser)
            assert refused.status_code == 429
        assert_error(refused, 429, "too_many_failed_authentications")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # The right token from the guessing address is refused too: guessing cannot go on.
        assert_error(
            await right.get("/admin/api/info", headers=guesser), 429, "too_many_failed_authentications"
        )
        # Another address is not affected.
        other = await right.get("/admin/api/info", headers={"X-Forwarded-For": "198.51.100.2"})
        assert other.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "docsdesk.admin"]
    assert len([line for line in lines if "failed authentications" in line]) == 1
    assert "203.0.113.7" in lines[0]
