"""Admin API access and the streamed export, over HTTP."""

from __future__ import annotations

import csv
import io
import json

import httpx

from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin
from tests.docsdesk.insights.seed import seed, seed_thread, turn


async def test_admin_is_404_when_no_token_is_configured(live_app):
    url, _ = live_app
    async with httpx.AsyncClient(base_url=url) as http:
        for path in ("/admin", "/admin/api/report", "/admin/api/export", "/admin/api/conversations/thr_x"):
            response = await http.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "not_found"


async def test_admin_needs_the_admin_token_and_refuses_reader_tokens(admin_app):
    url, _ = admin_app
    async with httpx.AsyncClient(base_url=url) as http:
        reader = (await http.post("/session")).json()["token"]
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"Authorization": f"Bearer {reader}"},
            {"Authorization": f"Basic {ADMIN_TOKEN}"},
            {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        ):
            for path in (
                "/admin/api/report",
                "/admin/api/export",
                "/admin/api/info",
                "/admin/api/search?q=x",
            ):
                response = await http.get(path, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert response.json()["error"]["code"] == "invalid_admin_token"
                assert response.headers["www-authenticate"].startswith("Bearer")
        # The reader's token keeps working where it belongs, the admin token does not.
        chatkit = await http.post(
            "/chatkit",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            json={"type": "threads.list", "params": {}},
        )
        assert chatkit.status_code == 401
    async with admin(url) as http:
        assert (await http.get("/admin/api/info")).status_code == 200
        page = await http.get("/admin")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_export_streams_every_format_for_a_large_range(admin_app, engine, collection):
    url, _ = admin_app
    thread = await seed_thread(engine, user="exporter")
    total = 2_300  # several keyset pages
    await seed(
        engine,
        [
            turn(
                thread,
                f'Question number {i} with\nnewline, comma and "quotes"',
                collection,
                cited=["https://docs.example.com/concepts/workers/"],
                ago_days=i / 100,
            )
            for i in range(total)
        ],
    )
    async with admin(url) as http:
        chunks = 0
        lines = []
        async with http.stream(
            "GET", "/admin/api/export", params={"format": "jsonl", "days": 90}
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            buffer = ""
            async for chunk in response.aiter_text():
                chunks += 1
                buffer += chunk
            lines = buffer.splitlines()
        assert chunks > 1  # streamed in pieces, not one body
        rows = [json.loads(line) for line in lines]
        assert len(rows) == total
        assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)
        assert rows[0]["cited_urls"] == ["https://docs.example.com/concepts/workers/"]
        assert rows[0]["user"] == "0123456789abcdef" and "exporter" not in lines[0]

        text = (await http.get("/admin/api/export", params={"format": "csv", "days": 90})).text
        table = list(csv.DictReader(io.StringIO(text)))
        assert len(table) == total and table[-1]["question"].startswith("Question number 0 with\nnewline")

        markdown = (await http.get("/admin/api/export", params={"format": "md", "days": 90})).text
        assert markdown.count("\n**Question**\n") == total
        assert "> newline, comma" in markdown  # reader text quoted, it cannot open a heading

        small = (await http.get("/admin/api/export", params={"format": "jsonl", "days": 1})).text
        assert 0 < len(small.splitlines()) < total

        bad = await http.get("/admin/api/export", params={"format": "xml"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_format"


async def test_conversation_view(admin_app, engine):
    from tests.support.chatkit_client import ChatKitClient, done_items
    from tests.support.scripted_model import Call
    from tests.test_chatkit_server import TitledScript, use

    url, app = admin_app
    use(app, TitledScript([Call("search_docs", {"query": "retries backoff"}), "Retries back off [1]."]))
    async with ChatKitClient(url) as client:
        await client.login()
        thread_id, events = await client.new_thread(
            "How do retries work?", metadata={"page": {"url": "https://docs.example.com/"}}
        )
    await app.state.services.recorder.flush()
    async with admin(url) as http:
        response = await http.get(f"/admin/api/conversations/{thread_id}")
        missing = await http.get("/admin/api/conversations/thr_nope")
        invalid = await http.get("/admin/api/conversations/bad%20id")
    assert response.status_code == 200
    body = response.json()
    kinds = [i["type"] for i in body["items"]]
    assert kinds == ["user_message", "page_context", "assistant_message"]
    assert body["items"][0]["text"] == "How do retries work?"
    assert body["items"][2]["sources"][0]["url"].startswith("https://docs.example.com/")
    assert body["turns"][0]["outcome"] == "answered"
    assert done_items(events, "assistant_message")[-1]["id"] == body["turns"][0]["answer_item_id"]
    assert missing.status_code == 404 and invalid.status_code == 400


async def test_search_endpoint_returns_passages_with_scores(admin_app):
    url, _ = admin_app
    async with admin(url) as http:
        found = (await http.get("/admin/api/search", params={"q": "retry backoff"})).json()
        empty = await http.get("/admin/api/search", params={"q": "  "})
    assert found["results"] and all(r["score"] > 0 for r in found["results"])
    assert found["results"][0]["url"].startswith("https://docs.example.com/")
    assert empty.status_code == 400


async def test_report_and_export_by_channel(admin_app, engine, collection):
    """Searches coding agents made over MCP (no thread, channel `mcp`, built by the same
    turn-record builder) are counted per channel and can be reported on their own."""
    from datetime import UTC, datetime

    from docsdesk.core.turn import SearchRecord, TurnChannel, TurnOutcome
    from docsdesk.insights.turns import turn_record

    url, _ = admin_app
    thread = await seed_thread(engine)
    agent_search = turn_record(
        thread_id=None,
        question_item_id=None,
        question="helm chart values",
        tenant_id="",
        user_hash="fedcba9876543210",
        collection=collection,
        outcome=TurnOutcome.NOT_COVERED,
        model="",
        created_at=datetime.now(UTC),
        answers=(),
        page=None,
        searches=[SearchRecord("helm chart values", 0, None, ["helm"])],
        first_text_seconds=None,
        duration_seconds=0.004,
        channel=TurnChannel.MCP,
    )
    await seed(engine, [turn(thread, "how do retries work", collection), agent_search])
    async with admin(url) as http:
        both = (await http.get("/admin/api/report", params={"collection": collection})).json()
        assert both["channels"] == {
            "mcp": {"turns": 1, "not_covered": 1},
            "widget": {"turns": 1, "not_covered": 0},
        }
        agents = (
            await http.get("/admin/api/report", params={"collection": collection, "channel": "mcp"})
        ).json()
        assert agents["scope"]["channel"] == "mcp" and agents["channels"] == {
            "mcp": {"turns": 1, "not_covered": 1}
        }
        assert [g["question"] for g in agents["coverage_gaps"]] == ["helm chart values"]
        exported = await http.get(
            "/admin/api/export", params={"collection": collection, "channel": "widget", "format": "jsonl"}
        )
        assert [json.loads(line)["question"] for line in exported.text.splitlines()] == [
            "how do retries work"
        ]
        assert json.loads(exported.text.splitlines()[0])["channel"] == "widget"
        bad = await http.get("/admin/api/report", params={"collection": collection, "channel": "email"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_channel"
