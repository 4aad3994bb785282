"""Every route's path and query parameters, fuzzed with hostile values (issue 23, item 8):
NUL, huge, unicode, negative and overlong numbers, traversal. Nothing is a 500; a NUL is a 400
`invalid_request`. The routes come from the app itself (the OpenAPI schema), so a new route is fuzzed
without editing this test."""

from __future__ import annotations

import logging
from urllib.parse import quote

from pydantic import SecretStr

from app import create_app
from tests.docsdesk.insights.conftest import ADMIN_TOKEN
from tests.support import LiveServer
from tests.support.chatkit_client import ChatKitClient

HOSTILE = [
    "\x00",
    "a\x00b",
    "x" * 5000,
    "é𝒳\u202e\ufeff",
    "-1",
    "-99999999999999999999",
    "9" * 5000,
    "../../etc/passwd",
    "NaN",
    "",
    " ",
    "%",
    "atc_" + "\x00" * 3,
]


def routes(app) -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path template, path parameter names, query parameter names) of each route in
    the app's OpenAPI schema (included routers too)."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            path_params = [p["name"] for p in params if p["in"] == "path"]
            query_params = [p["name"] for p in params if p["in"] == "query"]
            found.append((method.upper(), path, path_params, query_params))
    return found


def fill(path: str, params: list[str], value: str) -> str:
    for name in params:
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


async def test_no_route_answers_500_to_hostile_path_or_query_values(settings, caplog):
    app = create_app(
        settings.model_copy(
            update={"admin_token": SecretStr(ADMIN_TOKEN), "rate_limit_reads": "100000/minute"}
        )
    )
    table = routes(app)
    assert {
        "/attachments/{attachment_id}/upload",
        "/attachments/{attachment_id}/preview",
        "/admin/api/search",
    } <= {path for _, path, _, _ in table}
    failures = []
    async with LiveServer(app) as live, ChatKitClient(live.url) as client:
        await client.login()
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for method, template, path_params, query_params in table:
            token = admin if template.startswith("/admin") else client.headers
            for value in HOSTILE:
                url = fill(template, path_params, value if path_params else "ok")
                query = {name: value for name in query_params}
                response = await client.http.request(method, url, params=query, headers=token)
                if response.status_code >= 500:
                    failures.append((method, template, value[:20], response.status_code))
                refused = (
                    response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
                )
                if "\x00" in value and (path_params or query_params) and not refused:
                    failures.append((method, template, "NUL", response.status_code, response.text[:100]))
    assert not failures, failures[:20]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_custom_actions_without_a_type_are_400(settings, caplog):
    app = create_app(settings)
    async with LiveServer(app) as live, ChatKitClient(live.url) as client:
        await client.login()
        for kind in ("threads.custom_action", "threads.sync_custom_action"):
            for action in ({}, {"payload": {"x": 1}}, {"type": None}, {"type": 7}):
                body = {"type": kind, "params": {"thread_id": "thr_x", "item_id": None, "action": action}}
                caplog.clear()
                with caplog.at_level(logging.INFO):
                    response = await client.http.post("/chatkit", json=body, headers=client.headers)
                assert response.status_code == 400, (kind, action, response.status_code, response.text[:200])
                assert response.json()["error"]["code"] == "invalid_request"
                assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
