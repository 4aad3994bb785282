"""A second user, and the same user id in a second tenant, try every request type on the
first user's thread, item and attachment ids: 404 (or a 4xx that touches nothing), no change."""

from __future__ import annotations

import base64

import pytest
from chatkit.types import FileAttachment

from docsdesk.core.context import RequestContext
from tests.support import LiveServer, new_id
from tests.support.chatkit_client import ChatKitClient, done_items, user_input


async def victim_state(victim: ChatKitClient, thread_id: str) -> dict:
    return {
        "thread": await victim.call("threads.get_by_id", {"thread_id": thread_id}),
        "threads": await victim.call("threads.list", {"limit": 100}),
    }


async def attack(attacker: ChatKitClient, thread_id: str, user_item: str, answer_item: str, attachment: str):
    action = {"type": "noop", "payload": {}}
    attempts = [
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("threads.update", {"thread_id": thread_id, "title": "pwned"}),
        ("items.list", {"thread_id": thread_id}),
        ("items.feedback", {"thread_id": thread_id, "item_ids": [answer_item], "kind": "negative"}),
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("hi")}),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item}),
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": {}}),
        (
            "threads.add_structured_input",
            {"thread_id": thread_id, "item_id": answer_item, "input": {"status": "skipped", "answers": {}}},
        ),
        ("threads.custom_action", {"thread_id": thread_id, "item_id": answer_item, "action": action}),
        ("threads.sync_custom_action", {"thread_id": thread_id, "item_id": answer_item, "action": action}),
        ("attachments.delete", {"attachment_id": attachment}),
        ("threads.create", {"input": user_input("hi", attachments=[attachment])}),
        ("threads.delete", {"thread_id": thread_id}),
    ]
    for type_, params in attempts:
        response = await attacker.request(type_, params)
        assert response.status_code == 404, (type_, response.status_code, response.text)
    # Requests that name no foreign id: they work, and show none of the victim's data.
    listed = await attacker.call("threads.list", {"limit": 100})
    assert thread_id not in {t["id"] for t in listed["data"]}
    transcribe = {"audio_base64": base64.b64encode(b"x").decode(), "mime_type": "audio/webm"}
    assert (await attacker.request("input.transcribe", transcribe)).status_code == 400
    own = await attacker.call("attachments.create", {"name": "a.txt", "size": 1, "mime_type": "text/plain"})
    assert own["id"] != attachment


async def seed(victim: ChatKitClient, store, ctx: RequestContext):
    thread_id, events = await victim.new_thread("Victim question")
    user_item = done_items(events, "user_message")[0]["id"]
    answer_item = done_items(events, "assistant_message")[0]["id"]
    attachment = FileAttachment(id=f"atc_{new_id()}", name="secret.txt", mime_type="text/plain")
    await store.save_attachment(attachment, ctx)
    return thread_id, user_item, answer_item, attachment.id


async def check_untouched(victim, store, ctx, thread_id, before, attachment_id):
    assert await victim_state(victim, thread_id) == before
    assert await store.load_feedback(thread_id, ctx) == []
    assert (await store.load_attachment(attachment_id, ctx)).name == "secret.txt"


async def test_second_user_cannot_touch_first_users_data(live_app):
    url, app = live_app
    store = app.state.services.store
    async with ChatKitClient(url) as victim, ChatKitClient(url) as attacker:
        await victim.login()
        await attacker.login()
        ctx = RequestContext(user_id=victim.user_id)
        thread_id, user_item, answer_item, attachment = await seed(victim, store, ctx)
        before = await victim_state(victim, thread_id)
        await attack(attacker, thread_id, user_item, answer_item, attachment)
        await check_untouched(victim, store, ctx, thread_id, before, attachment)


@pytest.fixture
async def gateway_app(settings):
    from app import create_app

    app = create_app(settings.model_copy(update={"auth_mode": "trusted-header"}))
    async with LiveServer(app) as live:
        yield live.url, app


async def test_same_user_in_another_tenant_sees_nothing(gateway_app):
    url, app = gateway_app
    store = app.state.services.store
    user = new_id("alice")
    victim_headers = {"X-User-ID": user, "X-Tenant-ID": new_id("t1")}
    attacker_headers = {"X-User-ID": user, "X-Tenant-ID": new_id("t2")}
    async with ChatKitClient(url, victim_headers) as victim, ChatKitClient(url, attacker_headers) as attacker:
        ctx = RequestContext(user_id=user, tenant_id=victim_headers["X-Tenant-ID"])
        thread_id, user_item, answer_item, attachment = await seed(victim, store, ctx)
        before = await victim_state(victim, thread_id)
        await attack(attacker, thread_id, user_item, answer_item, attachment)
        await check_untouched(victim, store, ctx, thread_id, before, attachment)
        # And the no-tenant namespace of the same user id is separate again.
        async with ChatKitClient(url, {"X-User-ID": user}) as tenantless:
            await attack(tenantless, thread_id, user_item, answer_item, attachment)
