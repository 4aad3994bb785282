"""All 16 ChatKit request types over real HTTP, on the real store, with the offline model."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from chatkit.types import ClientToolCallItem, StructuredInputFreeform, StructuredInputItem

from chatkit_store import PostgresStore
from docsdesk.core.context import RequestContext
from tests.support.chatkit_client import ChatKitClient, done_items, user_input


@pytest.fixture
async def client(live_app):
    url, app = live_app
    async with ChatKitClient(url) as c:
        await c.login()
        c.app = app
        yield c


def owner_ctx(client: ChatKitClient) -> RequestContext:
    return RequestContext(user_id=client.user_id)


async def test_threads_create_streams_a_turn(client):
    thread_id, events = await client.new_thread("How do I add annotations?")
    types = [e["type"] for e in events]
    assert types[0] == "thread.created"
    assert thread_id.startswith("thr_") and len(thread_id) >= 4 + 24
    assert types[1] == "thread.item.done" and events[1]["item"]["type"] == "user_message"
    assert "stream_options" in types
    answer = done_items(events, "assistant_message")
    assert len(answer) == 1 and answer[0]["content"][0]["text"]
    # The first turn names the thread.
    updated = [e for e in events if e["type"] == "thread.updated"]
    assert updated and updated[-1]["thread"]["title"] == "How do I add annotations"


async def test_read_update_list_and_delete(client):
    thread_id, _ = await client.new_thread("What is a thread?")
    thread = await client.call("threads.get_by_id", {"thread_id": thread_id})
    assert thread["id"] == thread_id
    kinds = [i["type"] for i in thread["items"]["data"]]
    assert kinds[0] == "user_message" and "assistant_message" in kinds
    assert "hidden_context_item" not in kinds

    renamed = await client.call("threads.update", {"thread_id": thread_id, "title": "Renamed"})
    assert renamed["title"] == "Renamed"
    listed = await client.call("threads.list", {"limit": 10, "order": "desc"})
    assert listed["data"][0]["id"] == thread_id and listed["data"][0]["title"] == "Renamed"

    items = await client.call("items.list", {"thread_id": thread_id, "limit": 1, "order": "asc"})
    assert items["has_more"] is True and items["after"]
    rest = await client.call(
        "items.list", {"thread_id": thread_id, "limit": 50, "order": "asc", "after": items["after"]}
    )
    assert items["data"][0]["type"] == "user_message"
    assert {i["id"] for i in rest["data"]}.isdisjoint({items["data"][0]["id"]})

    assert await client.call("threads.delete", {"thread_id": thread_id}) == {}
    gone = await client.request("threads.get_by_id", {"thread_id": thread_id})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


async def test_add_user_message_feedback_and_retry(client):
    thread_id, _ = await client.new_thread("First question")
    events = await client.call(
        "threads.add_user_message",
        {"thread_id": thread_id, "input": user_input("Second question", quoted_text="a selection")},
    )
    user = done_items(events, "user_message")[0]
    assert user["quoted_text"] == "a selection"
    answer = done_items(events, "assistant_message")[0]

    assert (
        await client.call(
            "items.feedback", {"thread_id": thread_id, "item_ids": [answer["id"]], "kind": "positive"}
        )
        == {}
    )
    store: PostgresStore = client.app.state.services.store
    feedback = await store.load_feedback(thread_id, owner_ctx(client))
    assert [(f["item_id"], f["kind"]) for f in feedback] == [(answer["id"], "positive")]

    retried = await client.call("threads.retry_after_item", {"thread_id": thread_id, "item_id": user["id"]})
    new_answer = done_items(retried, "assistant_message")[0]
    assert new_answer["id"] != answer["id"]
    thread = await client.call("threads.get_by_id", {"thread_id": thread_id})
    ids = [i["id"] for i in thread["items"]["data"]]
    assert answer["id"] not in ids and new_answer["id"] in ids

    not_user = await client.request(
        "threads.retry_after_item", {"thread_id": thread_id, "item_id": new_answer["id"]}
    )
    assert not_user.status_code == 400


async def test_client_tool_output_and_structured_input(client):
    thread_id, _ = await client.new_thread("Start")
    store: PostgresStore = client.app.state.services.store
    ctx = owner_ctx(client)
    thread = await store.load_thread(thread_id, ctx)

    # Nothing pending yet: a clear 400, nothing written.
    no_call = await client.request(
        "threads.add_client_tool_output", {"thread_id": thread_id, "result": {"ok": True}}
    )
    assert no_call.status_code == 400 and "ClientToolCallItem" in no_call.json()["error"]["message"]

    call = ClientToolCallItem(
        id=store.generate_item_id("tool_call", thread, ctx),
        thread_id=thread_id,
        created_at=datetime.now(),
        status="pending",
        call_id="call_1",
        name="get_page",
        arguments={},
    )
    await store.add_thread_item(thread_id, call, ctx)
    events = await client.call(
        "threads.add_client_tool_output", {"thread_id": thread_id, "result": {"page": "x"}}
    )
    assert done_items(events, "assistant_message")
    saved = await store.load_item(thread_id, call.id, ctx)
    assert saved.status == "completed" and saved.output == {"page": "x"}

    question = StructuredInputItem(
        id=store.generate_item_id("message", thread, ctx),
        thread_id=thread_id,
        created_at=datetime.now(),
        status="pending",
        inputs=[StructuredInputFreeform(id="q1", question="Which SDK version?")],
    )
    await store.add_thread_item(thread_id, question, ctx)
    events = await client.call(
        "threads.add_structured_input",
        {
            "thread_id": thread_id,
            "item_id": question.id,
            "input": {"status": "answered", "answers": {"q1": {"values": ["1.6.5"]}}},
        },
    )
    assert any(e["type"] == "thread.item.replaced" for e in events)
    saved = await store.load_item(thread_id, question.id, ctx)
    assert saved.status == "answered" and saved.inputs[0].answer.values == ["1.6.5"]

    wrong_item = await client.request(
        "threads.add_structured_input",
        {"thread_id": thread_id, "item_id": call.id, "input": {"status": "skipped", "answers": {}}},
    )
    assert wrong_item.status_code == 400


async def test_unsupported_request_types_answer_clear_4xx(client):
    thread_id, _ = await client.new_thread("Hello")
    action = {"type": "noop", "payload": {}}
    unknown = await client.request(
        "threads.custom_action", {"thread_id": thread_id, "item_id": None, "action": action}
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_action"
    for type_, params in [
        ("threads.sync_custom_action", {"thread_id": thread_id, "item_id": None, "action": action}),
        ("input.transcribe", {"audio_base64": base64.b64encode(b"x").decode(), "mime_type": "audio/webm"}),
    ]:
        response = await client.request(type_, params)
        assert response.status_code == 400, type_
        assert response.json()["error"]["code"] == "unsupported", type_
    missing = await client.request("attachments.delete", {"attachment_id": "atc_missing"})
    assert missing.status_code == 404


async def test_attachment_metadata_delete(client):
    from chatkit.types import FileAttachment

    store: PostgresStore = client.app.state.services.store
    ctx = owner_ctx(client)
    attachment = FileAttachment(id="atc_" + "a" * 32, name="n.txt", mime_type="text/plain")
    await store.save_attachment(attachment, ctx)
    assert await client.call("attachments.delete", {"attachment_id": attachment.id}) == {}
    again = await client.request("attachments.delete", {"attachment_id": attachment.id})
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[]", 400, "invalid_request"),
        (json.dumps({"type": "threads.explode", "params": {}}), 400, "unknown_request_type"),
        (json.dumps({"params": {}}), 400, "unknown_request_type"),
        (json.dumps({"type": "threads.get_by_id", "params": {}}), 400, "invalid_request"),
        (json.dumps({"type": "threads.get_by_id", "params": {"thread_id": 5}}), 400, "invalid_request"),
        (json.dumps({"type": "threads.list", "params": {"order": "sideways"}}), 400, "invalid_request"),
        (json.dumps({"type": "threads.get_by_id", "params": {"thread_id": "thr_nope"}}), 404, "not_found"),
        (
            json.dumps(
                {
                    "type": "threads.add_user_message",
                    "params": {"thread_id": "thr_nope", "input": user_input("hi")},
                }
            ),
            404,
            "not_found",
        ),
        (
            json.dumps({"type": "threads.create", "params": {"input": user_input("   ")}}),
            400,
            "invalid_request",
        ),
        (
            json.dumps({"type": "threads.create", "params": {"input": user_input("x" * 9000)}}),
            400,
            "message_too_long",
        ),
        (
            json.dumps(
                {"type": "threads.create", "params": {"input": user_input("hi", attachments=["atc_nope"])}}
            ),
            404,
            "not_found",
        ),
        (
            json.dumps({"type": "threads.list", "params": {}, "metadata": {"page": "x"}}),
            400,
            "invalid_page_context",
        ),
    ],
)
async def test_bad_requests_get_clear_errors(client, body, status, code):
    before = await client.call("threads.list", {"limit": 100})
    response = await client.raw(body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    after = await client.call("threads.list", {"limit": 100})
    assert after["data"] == before["data"]  # nothing half-written


async def test_oversized_body_is_413(client):
    big = json.dumps({"type": "threads.list", "params": {}, "metadata": {"pad": "x" * (1024 * 1024)}})
    response = await client.raw(big)
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"


async def test_authentication_is_required(live_app):
    url, _ = live_app
    async with ChatKitClient(url) as anonymous:
        response = await anonymous.request("threads.list", {})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "missing_credentials"
        bad = await anonymous.raw(b"{}", headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401
        spoofed = await anonymous.raw(
            json.dumps({"type": "threads.list", "params": {}}), headers={"X-User-ID": "alice"}
        )
        assert spoofed.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no-such-route", 404, "not_found"),
        ("DELETE", "/chatkit", 405, "method_not_allowed"),
        ("GET", "/session", 405, "method_not_allowed"),
        ("GET", "/about/no-such-page.md", 404, "not_found"),
    ],
)
async def test_every_route_answers_the_documented_error_shape(client, method, path, status, code):
    response = await client.http.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]


async def test_own_docs_are_served_as_html_with_anchors_and_as_markdown_on_request(client):
    response = await client.http.get("/about/search.md", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert '<h2 id="the-offline-answer">' in response.text
    for markdown in (
        await client.http.get("/about/deployment.md?format=md"),
        await client.http.get("/about/deployment.md", headers={"Accept": "text/markdown"}),
    ):
        assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
        assert markdown.text.startswith("# ")
