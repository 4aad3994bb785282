"""Operations over real HTTP (the full app on uvicorn, the session PostgreSQL): rate limits,
request limits, metrics, probes, request ids and access logs, CORS."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app import create_app
from docsdesk.ops.observability import hash_user, log_salt
from tests.support.assistants import use_model
from tests.support.chatkit_client import ChatKitClient, parse_sse, signed_in, user_input
from tests.support.scripted_model import GatedModel


@asynccontextmanager
async def served(settings, **overrides) -> AsyncIterator[tuple[ChatKitClient, Any]]:
    """A logged-in client of a fresh app (own rate-limit memory) with `overrides` applied."""
    app = create_app(settings.model_copy(update=overrides))
    async with signed_in(app) as client:
        yield client, app


def create_body(text: str = "How do I install it?", metadata: dict | None = None) -> str:
    body: dict[str, Any] = {"type": "threads.create", "params": {"input": user_input(text)}}
    if metadata is not None:
        body["metadata"] = metadata
    return json.dumps(body)


async def open_stream(client: ChatKitClient) -> httpx.Response:
    request = client.http.build_request(
        "POST",
        "/chatkit",
        content=create_body(),
        headers={"Content-Type": "application/json", **client.headers},
    )
    return await client.http.send(request, stream=True)


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


class Scrape:
    """/metrics before and after: the registry is process-wide (other tests' apps count there
    too), so tests compare what grew rather than cumulative totals."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.before = ""
        self.after = ""

    async def start(self) -> Scrape:
        self.before = (await self.http.get("/metrics")).text
        return self

    async def end(self) -> Scrape:
        self.after = (await self.http.get("/metrics")).text
        return self

    def grew(self, name: str, **labels: str) -> float:
        return metric(self.after, name, **labels) - metric(self.before, name, **labels)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


# --- rate limits --------------------------------------------------------------------------


async def test_turn_limit_answers_429_with_retry_after(settings):
    async with served(settings, rate_limit_turns="2/minute") as (client, _):
        scrape = await Scrape(client.http).start()
        for _ in range(2):
            await client.new_thread("What is docsdesk?")
        refused = await client.raw(create_body())
        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["X-Request-ID"]
        # Reads have their own budget.
        assert (await client.request("threads.list", {"limit": 5})).status_code == 200
        await scrape.end()
        assert scrape.grew("docsdesk_rate_limited_total", limit="turns") == 1
        assert scrape.grew("docsdesk_errors_total", code="rate_limited") == 1


async def test_read_limit_is_per_identity(settings):
    async with served(settings, rate_limit_reads="3/minute") as (client, app):
        for _ in range(3):
            assert (await client.request("threads.list", {"limit": 5})).status_code == 200
        refused = await client.request("threads.list", {"limit": 5})
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) >= 1
        await client.login()  # a new anonymous user has a budget of its own
        assert (await client.request("threads.list", {"limit": 5})).status_code == 200


async def test_session_limit_per_client_ip_behind_a_trusted_proxy(settings):
    async with served(settings, rate_limit_sessions="2/minute", trusted_proxies=["127.0.0.1"]) as (
        client,
        _,
    ):
        # The login above was the first session from 127.0.0.1 itself.
        for _ in range(2):
            response = await client.http.post("/session", headers={"X-Forwarded-For": "198.51.100.7"})
            assert response.status_code == 200
        refused = await client.http.post("/session", headers={"X-Forwarded-For": "203.0.113.1, 198.51.100.7"})
        assert_error(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) >= 1
        other = await client.http.post("/session", headers={"X-Forwarded-For": "198.51.100.8"})
        assert other.status_code == 200


async def test_forwarded_for_is_ignored_without_trusted_proxies(settings):
    async with served(settings, rate_limit_sessions="2/minute") as (client, _):
        await client.http.post("/session", headers={"X-Forwarded-For": "198.51.100.7"})
        refused = await client.http.post("/session", headers={"X-Forwarded-For": "198.51.100.9"})
        assert_error(refused, 429, "rate_limited")


async def test_concurrent_streams_are_capped_and_released(settings):
    async with served(settings, max_concurrent_streams_per_user=2) as (client, app):
        model = use_model(app, GatedModel())
        scrape = await Scrape(client.http).start()
        first, second = await open_stream(client), await open_stream(client)
        assert first.status_code == second.status_code == 200
        refused = await client.raw(create_body())
        error = assert_error(refused, 429, "too_many_streams")
        assert "limit: 2" in error["message"] and refused.headers["Retry-After"]

        await first.aclose()  # the client goes away: its slot comes back
        refusals = 1
        for _ in range(50):
            third = await open_stream(client)
            if third.status_code == 200:
                break
            refusals += 1
            await third.aclose()
            await asyncio.sleep(0.05)
        assert third.status_code == 200

        model.gate.set()  # the remaining streams run to the end and give their slots back
        events = parse_sse((await second.aread()).decode())
        assert any(
            e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message" for e in events
        )
        await third.aread()
        await second.aclose(), await third.aclose()
        for _ in range(2):
            await client.new_thread("Again?")
        await scrape.end()
        assert scrape.grew("docsdesk_rate_limited_total", limit="streams") == refusals
        assert scrape.grew("docsdesk_errors_total", code="too_many_streams") == refusals
        assert metric(scrape.after, "docsdesk_active_streams") == 0
        assert (
            scrape.grew("docsdesk_requests_total", type="threads.create", outcome="client_disconnected") == 1
        )


# --- request limits -----------------------------------------------------------------------


async def test_oversized_body_is_413(settings):
    async with served(settings, max_body_bytes=1024) as (client, _):
        refused = await client.raw(create_body("x" * 2000))
        assert_error(refused, 413, "body_too_large")

        async def chunks():  # no Content-Length: the limit still holds while reading
            for _ in range(4):
                yield b"x" * 512

        streamed = await client.http.post(
            "/chatkit", content=chunks(), headers={"Content-Type": "application/json", **client.headers}
        )
        assert_error(streamed, 413, "body_too_large")


async def test_message_and_page_context_limits_are_400(settings):
    async with served(settings, max_message_chars=40, max_page_context_bytes=200) as (client, _):
        scrape = await Scrape(client.http).start()
        assert_error(await client.raw(create_body("y" * 41)), 400, "message_too_long")
        page = {"url": "https://docs.example/", "title": "t" * 250}
        assert_error(await client.raw(create_body("Short?", {"page": page})), 400, "invalid_page_context")
        await client.new_thread("Short?")  # within both limits
        await scrape.end()
        assert scrape.grew("docsdesk_errors_total", code="message_too_long") == 1
        assert (
            scrape.grew(
                "docsdesk_requests_total",
                route="/chatkit",
                type="threads.create",
                outcome="invalid_page_context",
            )
            == 1
        )
        assert (
            scrape.grew("docsdesk_requests_total", route="/chatkit", type="threads.create", outcome="2xx")
            == 1
        )


async def test_turn_timeout_ends_the_stream_with_an_error_event(settings):
    async with served(settings, turn_timeout_seconds=0.3) as (client, app):
        use_model(app, GatedModel())  # never answers
        scrape = await Scrape(client.http).start()
        response = await client.raw(create_body())
        assert response.status_code == 200
        events = parse_sse(response.text)
        assert events[-1]["type"] == "error"
        assert "too long" in events[-1]["message"] and events[-1]["allow_retry"] is True
        await scrape.end()
        assert scrape.grew("docsdesk_model_call_duration_seconds_count", outcome="timeout") == 1
        assert scrape.grew("docsdesk_errors_total", code="custom") == 1


# --- metrics ------------------------------------------------------------------------------


async def test_metrics_after_a_scripted_turn(settings):
    async with served(settings) as (client, _):
        before = (await client.http.get("/metrics")).text
        await client.new_thread("How do I configure the server?")
        await client.call("threads.list", {"limit": 5})
        response = await client.http.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        after = response.text

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    families = {f.name for f in text_string_to_metric_families(after)}
    assert {
        "docsdesk_requests",
        "docsdesk_request_duration_seconds",
        "docsdesk_stream_duration_seconds",
        "docsdesk_time_to_first_text_delta_seconds",
        "docsdesk_model_call_duration_seconds",
        "docsdesk_search_duration_seconds",
        "docsdesk_model_tokens",
        "docsdesk_active_streams",
        "docsdesk_db_pool_connections_in_use",
        "docsdesk_db_pool_size",
        "docsdesk_rate_limited",
        "docsdesk_errors",
        "docsdesk_build_info",
    } <= families
    turn = {"route": "/chatkit", "type": "threads.create"}
    assert grew("docsdesk_requests_total", outcome="2xx", **turn) == 1
    assert grew("docsdesk_requests_total", route="/chatkit", type="threads.list", outcome="2xx") == 1
    assert grew("docsdesk_request_duration_seconds_count", **turn) == 1
    assert grew("docsdesk_request_duration_seconds_sum", **turn) > 0
    assert grew("docsdesk_stream_duration_seconds_count", type="threads.create") == 1
    assert grew("docsdesk_time_to_first_text_delta_seconds_count") == 1
    assert grew("docsdesk_model_call_duration_seconds_count", model="offline", outcome="ok") == 1
    searches = grew("docsdesk_search_duration_seconds_count")
    assert searches >= 1  # the offline model searches once or more per turn
    assert grew("docsdesk_tool_duration_seconds_count", tool="search_docs", outcome="ok") == searches
    assert grew("docsdesk_model_tokens_total", direction="input") > 0
    assert grew("docsdesk_model_tokens_total", direction="output") > 0
    assert metric(after, "docsdesk_active_streams") == 0
    assert metric(after, "docsdesk_db_pool_size") >= settings.db_pool_size
    assert metric(after, "docsdesk_db_pool_connections_in_use") == 0
    assert metric(after, "docsdesk_build_info", model="offline") == 1


async def test_metrics_token_is_required_when_set(settings):
    async with served(settings, metrics_token=SecretStr("scrape-me")) as (client, _):
        missing = await client.http.get("/metrics")
        assert_error(missing, 401, "unauthorized")
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        wrong = await client.http.get("/metrics", headers={"Authorization": "Bearer scrape-you"})
        assert wrong.status_code == 401
        right = await client.http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert right.status_code == 200 and "docsdesk_requests_total" in right.text


# --- probes -------------------------------------------------------------------------------


async def test_probes_answer_without_auth_or_limits(settings):
    async with served(settings, rate_limit_reads="1/minute", rate_limit_sessions="1/minute") as (client, _):
        anonymous = httpx.AsyncClient(base_url=str(client.http.base_url))
        async with anonymous:
            for _ in range(5):
                health = await anonymous.get("/healthz")
                assert health.status_code == 200 and health.json() == {"status": "ok"}
                ready = await anonymous.get("/readyz")
                assert ready.status_code == 200
        body = ready.json()
        assert body["status"] == "ready"
        assert body["components"]["database"]["status"] == "ok"
        migrations = body["components"]["migrations"]
        assert migrations["status"] == "ok" and migrations["current"] == migrations["head"]
        assert body["components"]["search"]["status"] in ("ok", "empty")
        assert isinstance(body["components"]["search"]["chunks"], int)
        assert isinstance(body["components"]["search"]["vector"], bool)


# --- request ids and logs -----------------------------------------------------------------


def access_lines(err: str) -> list[dict]:
    lines = []
    for line in err.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            if data.get("logger") == "docsdesk.access":
                lines.append(data)
    return lines


async def test_request_ids_and_the_access_log(settings, capsys):
    async with served(settings, log_format="json") as (client, _):
        honoured = await client.request("threads.list", {"limit": 1})
        chosen = await client.raw(
            json.dumps({"type": "threads.list", "params": {"limit": 1}}),
            headers={"X-Request-ID": "lb-42.a_B-c"},
        )
        insane = await client.raw(
            json.dumps({"type": "threads.list", "params": {"limit": 1}}),
            headers={"X-Request-ID": "no spaces allowed!"},
        )
        too_long = await client.raw(
            json.dumps({"type": "threads.list", "params": {"limit": 1}}),
            headers={"X-Request-ID": "a" * 129},
        )
        thread_id, events = await client.new_thread("How do I deploy it?")
        user_id = client.user_id
    err = capsys.readouterr().err

    assert re.fullmatch(r"[0-9a-f]{32}", honoured.headers["X-Request-ID"])
    assert chosen.headers["X-Request-ID"] == "lb-42.a_B-c"
    assert re.fullmatch(r"[0-9a-f]{32}", insane.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", too_long.headers["X-Request-ID"])
    assert len({honoured.headers["X-Request-ID"], insane.headers["X-Request-ID"]}) == 2

    lines = access_lines(err)
    by_id = {line["request_id"]: line for line in lines}
    line = by_id["lb-42.a_B-c"]
    assert line["chatkit_type"] == "threads.list" and line["status"] == 200
    assert line["method"] == "POST" and line["path"] == "/chatkit" and line["duration_ms"] >= 0
    turn = next(line for line in lines if line.get("chatkit_type") == "threads.create")
    assert turn["thread_id"] == thread_id
    assert turn["ttft_ms"] > 0 and turn["stream_ms"] > 0 and turn["duration_ms"] >= turn["stream_ms"]
    # The user is a salted hash, never the id itself, in any log line.
    assert turn["user"] == hash_user(log_salt(settings), user_id)
    assert user_id not in err


async def test_unhandled_error_is_a_json_500_with_the_request_id(settings, capsys):
    async with served(settings, log_format="json") as (client, app):

        async def broken(*args, **kwargs):
            raise RuntimeError("boom")

        app.state.services.server.process_request = broken
        scrape = await Scrape(client.http).start()
        response = await client.request("threads.list", {"limit": 1})
        await scrape.end()
    assert_error(response, 500, "internal_error")
    request_id = response.headers["X-Request-ID"]
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    failure = next(line for line in logged if line["logger"] == "docsdesk.core.errors")
    assert failure["request_id"] == request_id and "boom" in failure["exc"]
    assert scrape.grew("docsdesk_errors_total", code="internal_error") == 1


# --- CORS ---------------------------------------------------------------------------------

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


async def test_cors_for_listed_origins_with_credentials(settings):
    async with served(settings, cors_origins=["https://docs.example"]) as (client, _):
        allowed = await client.http.options(
            "/chatkit", headers={"Origin": "https://docs.example", **PREFLIGHT}
        )
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == "https://docs.example"
        assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
        assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
        assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()

        refused = await client.http.options(
            "/chatkit", headers={"Origin": "https://evil.example", **PREFLIGHT}
        )
        assert "Access-Control-Allow-Origin" not in refused.headers

        actual = await client.http.get("/healthz", headers={"Origin": "https://docs.example"})
        exposed = actual.headers["Access-Control-Expose-Headers"].lower()
        assert "x-request-id" in exposed and "retry-after" in exposed
        foreign = await client.http.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in foreign.headers


async def test_cors_wildcard_never_allows_credentials(settings):
    async with served(settings, cors_origins=["*"]) as (client, _):
        preflight = await client.http.options(
            "/chatkit", headers={"Origin": "https://any.example", **PREFLIGHT}
        )
        assert preflight.status_code == 200
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in preflight.headers


async def test_cors_never_opens_the_admin_routes(settings):
    """Issue 23, item 12: reader origins reach /chatkit, never /admin or /admin/api/*."""
    from pydantic import SecretStr

    admin_token = "admin-token-0123456789abcdef"
    for origins in (["https://docs.example"], ["*"]):
        async with served(settings, cors_origins=origins, admin_token=SecretStr(admin_token)) as (client, _):
            origin = {"Origin": "https://docs.example"}
            for path in ("/admin/api/info", "/admin/api/report", "/admin"):
                preflight = await client.http.options(path, headers={**origin, **PREFLIGHT})
                assert "Access-Control-Allow-Origin" not in preflight.headers, (origins, path)
                assert preflight.status_code in (404, 405)
            actual = await client.http.get(
                "/admin/api/info", headers={**origin, "Authorization": f"Bearer {admin_token}"}
            )
            assert actual.status_code == 200 and "Access-Control-Allow-Origin" not in actual.headers
            reader = await client.http.options("/chatkit", headers={**origin, **PREFLIGHT})
            assert reader.headers["Access-Control-Allow-Origin"] in ("https://docs.example", "*")
