"""Turn records over HTTP with the real store: answered, not covered, error, cancelled;
feedback linked to its turn; a deleted thread takes its records along."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from docsdesk.assistant.report import REPORT_NOT_COVERED
from docsdesk.ops.observability import hash_user, log_salt
from prompts import SYSTEM_PROMPT
from tests.docsdesk.insights.conftest import flush
from tests.support.assistants import use_assistant
from tests.support.chatkit_client import ChatKitClient, done_items, user_input
from tests.support.scripted_model import Call, ScriptedModel
from tests.test_chatkit_server import SlowModel, TitledScript, use


async def turns_of(engine, thread_id: str) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT * FROM turns WHERE thread_id = :t ORDER BY created_at, id"), {"t": thread_id}
        )
        return [dict(r) for r in rows.mappings()]


async def test_answered_turn_is_recorded_with_searches_sources_and_page(
    admin_app, engine, collection, settings
):
    url, app = admin_app
    use(
        app,
        TitledScript(
            [Call("search_docs", {"query": "install lantern"}), "Run `pip install lantern-queue` [1]."]
        ),
    )
    page = {"url": "https://docs.example.com/guides/", "title": "Guides"}
    async with ChatKitClient(url) as client:
        await client.login()
        thread_id, events = await client.new_thread("How do I install Lantern?", metadata={"page": page})
    await flush(app)
    [turn] = await turns_of(engine, thread_id)
    answer = done_items(events, "assistant_message")[-1]
    assert turn["outcome"] == "answered"
    assert turn["question"] == "How do I install Lantern?"
    assert turn["answer_item_id"] == answer["id"]
    assert turn["page_url"] == page["url"] and turn["page_title"] == "Guides"
    assert turn["collection"] == collection
    [search] = turn["searches"]
    assert search["query"] == "install lantern" and search["results"] > 0 and search["best_score"] > 0
    assert search["not_in_docs"] == []
    assert turn["cited_urls"] and turn["cited_urls"][0].startswith("https://docs.example.com/")
    assert turn["user_hash"] == hash_user(log_salt(settings), client.user_id)
    assert client.user_id not in json.dumps({k: str(v) for k, v in turn.items()})
    assert turn["first_text_ms"] is not None and turn["duration_ms"] >= turn["first_text_ms"]
    assert turn["model"] == "offline"


async def test_not_covered_when_search_finds_nothing_or_the_model_reports_it(admin_app, engine):
    url, app = admin_app
    async with ChatKitClient(url) as client:
        await client.login()
        use(app, TitledScript([Call("search_docs", {"query": "zxqv kubernetes helm chart"}), "Sorry."]))
        empty, _ = await client.new_thread("Is there a Helm chart?")
        use(
            app,
            TitledScript(
                [
                    Call("search_docs", {"query": "windows"}),
                    Call(REPORT_NOT_COVERED, {"reason": "absent_terms"}),
                    "Windows is not something these pages talk about.",
                ]
            ),
        )
        reported, events = await client.new_thread("Does it run on Windows?")
    await flush(app)
    [first] = await turns_of(engine, empty)
    [second] = await turns_of(engine, reported)
    assert first["outcome"] == "not_covered" and first["searches"][0]["results"] == 0
    assert first["not_covered_reason"] == "no_results"  # every search found nothing
    assert first["searches"][0]["best_score"] is None
    assert "zxqv" in first["searches"][0]["not_in_docs"]
    assert second["outcome"] == "not_covered" and second["not_covered_reason"] == "absent_terms"
    assert second["answer"] == "Windows is not something these pages talk about."
    assert done_items(events, "assistant_message")[-1]["content"][0]["text"] == second["answer"]


async def test_the_outcome_is_the_tool_call_whatever_the_prompt_or_wording(admin_app, engine):
    """The recorded outcome follows the report_not_covered call alone: neither another prompt
    nor the refusal sentence (the old wording, or any other) changes it."""
    url, app = admin_app
    refusal = "The documentation does not seem to cover Windows support."
    cases = [
        ("Answer questions about Lantern.", [Call("search_docs", {"query": "install"}), refusal], "answered"),
        (
            "Be terse.",
            [
                Call("search_docs", {"query": "install"}),
                Call(REPORT_NOT_COVERED, {"reason": "no_matching_section"}),
                "Nope.",
            ],
            "not_covered",
        ),
        (
            SYSTEM_PROMPT,
            [
                Call("search_docs", {"query": "install"}),
                Call(REPORT_NOT_COVERED, {"reason": "unknown_product"}),
                refusal,
            ],
            "not_covered",
        ),
        (SYSTEM_PROMPT, [Call("search_docs", {"query": "install"}), refusal], "answered"),
    ]
    threads = []
    async with ChatKitClient(url) as client:
        await client.login()
        for instructions, script, _ in cases:
            use_assistant(app, instructions=instructions)
            use(app, TitledScript(script))
            thread_id, _ = await client.new_thread("Does Lantern run on Windows?")
            threads.append(thread_id)
    use_assistant(app, instructions=SYSTEM_PROMPT)
    await flush(app)
    turns = [(await turns_of(engine, thread_id))[0] for thread_id in threads]
    assert [t["outcome"] for t in turns] == [expected for _, _, expected in cases]
    assert [t["not_covered_reason"] for t in turns] == [None, "no_matching_section", "unknown_product", None]


async def test_the_offline_models_refusal_is_recorded_not_covered(admin_app, engine):
    """The built-in offline model declares its refusal through the tool too."""
    from docsdesk.assistant.offline import OfflineModel

    url, app = admin_app
    use(app, OfflineModel())
    async with ChatKitClient(url) as client:
        await client.login()
        refused, events = await client.new_thread("How do I configure the worker warp coil?")
        answered, _ = await client.new_thread("How do I install Lantern?")
    await flush(app)
    [turn] = await turns_of(engine, refused)
    # Passages were found (so not the "every search found nothing" evidence), none answers:
    # "warp coil" is on no page.
    assert turn["searches"][0]["results"] > 0
    assert turn["outcome"] == "not_covered" and turn["not_covered_reason"] == "absent_terms"
    assert done_items(events, "assistant_message")[-1]["content"][0]["text"] == turn["answer"]
    [done] = await turns_of(engine, answered)
    assert done["outcome"] == "answered" and done["not_covered_reason"] is None


async def test_error_turn_is_recorded(admin_app, engine):
    url, app = admin_app
    use(app, ScriptedModel([RuntimeError("model exploded")]))
    async with ChatKitClient(url) as client:
        await client.login()
        thread_id, events = await client.new_thread("Break please")
    assert any(e["type"] == "error" for e in events)
    await flush(app)
    [turn] = await turns_of(engine, thread_id)
    assert turn["outcome"] == "error" and turn["answer"] == ""


async def test_cancelled_turn_is_recorded(admin_app, engine):
    url, app = admin_app
    async with ChatKitClient(url) as client:
        await client.login()
        use(app, TitledScript(["Quick first answer."]))
        thread_id, _ = await client.new_thread("warm-up")
        model = use(app, SlowModel())
        body = json.dumps(
            {
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": user_input("Now cancel me")},
            }
        )
        async with client.http.stream(
            "POST", "/chatkit", content=body, headers={**client.headers, "Content-Type": "application/json"}
        ) as response:
            deltas = 0
            async for line in response.aiter_lines():
                if "text_delta" in line:
                    deltas += 1
                    if deltas >= 3:
                        break
    await asyncio.wait_for(model.cancelled.wait(), 10)
    for _ in range(100):
        await flush(app)
        turns = await turns_of(engine, thread_id)
        if len(turns) == 2:
            break
        await asyncio.sleep(0.05)
    assert [t["outcome"] for t in turns] == ["answered", "cancelled"]
    assert turns[1]["question"] == "Now cancel me"


async def test_feedback_links_to_its_turn_and_delete_cascades(admin_app, engine):
    url, app = admin_app
    use(app, TitledScript(["An answer."]))
    async with ChatKitClient(url) as client:
        await client.login()
        thread_id, events = await client.new_thread("Rate me")
        answer_id = done_items(events, "assistant_message")[-1]["id"]
        await client.call(
            "items.feedback", {"thread_id": thread_id, "item_ids": [answer_id], "kind": "negative"}
        )
        await flush(app)
        async with engine.connect() as conn:
            linked = (
                await conn.execute(
                    text(
                        "SELECT t.question, f.kind FROM feedback f JOIN turns t ON t.answer_item_id = f.item_id "
                        "WHERE t.thread_id = :t"
                    ),
                    {"t": thread_id},
                )
            ).all()
        assert [tuple(r) for r in linked] == [("Rate me", "negative")]
        await client.call("threads.delete", {"thread_id": thread_id})
    assert await turns_of(engine, thread_id) == []


async def test_recording_can_be_turned_off(settings, collection, engine):
    from app import create_app
    from tests.support import LiveServer

    app = create_app(settings.model_copy(update={"record_turns": False, "collection": collection}))
    async with LiveServer(app) as live, ChatKitClient(live.url) as client:
        use(app, TitledScript(["Fine."]))
        await client.login()
        thread_id, _ = await client.new_thread("Not recorded")
        await flush(app)
    assert await turns_of(engine, thread_id) == []


async def test_jwt_tenant_claim_is_recorded_and_scopes_the_report(settings, collection, engine):
    import time

    import jwt
    from pydantic import SecretStr

    from app import create_app
    from tests.docsdesk.insights.conftest import ADMIN_TOKEN, admin
    from tests.support import LiveServer, new_id

    secret = "jwt-secret-0123456789abcdef0123456789"
    app = create_app(
        settings.model_copy(
            update={
                "auth_mode": "jwt",
                "jwt_secret": SecretStr(secret),
                "jwt_tenant_claim": "org",
                "collection": collection,
                "admin_token": SecretStr(ADMIN_TOKEN),
            }
        )
    )
    tenant = new_id("org")

    def token(user: str, org: str) -> str:
        return jwt.encode({"sub": user, "org": org, "exp": int(time.time()) + 600}, secret, algorithm="HS256")

    async with LiveServer(app) as live:
        use(app, TitledScript(["Tenant answer.", "Other answer."]))
        async with ChatKitClient(live.url, {"Authorization": f"Bearer {token('alice', tenant)}"}) as client:
            thread_id, _ = await client.new_thread("A tenant question")
        async with ChatKitClient(
            live.url, {"Authorization": f"Bearer {token('bob', tenant + 'x')}"}
        ) as client:
            await client.new_thread("Another tenant's question")
        await flush(app)
        async with admin(live.url) as http:
            report = (await http.get("/admin/api/report", params={"tenant": tenant})).json()
            info = (await http.get("/admin/api/info")).json()
    [turn] = await turns_of(engine, thread_id)
    assert turn["tenant_id"] == tenant
    assert report["totals"]["turns"] == 1
    assert [q["question"] for q in report["top_questions"]] == ["A tenant question"]
    assert info["tenant_claim"] == "org"


async def test_a_follow_up_is_recorded_with_the_question_it_leans_on(admin_app, engine):
    """Decided from the conversation, whatever the model: here a scripted language model."""
    url, app = admin_app
    use(app, TitledScript(["Retries [1].", "You're welcome!", "Set it to 0 [1].", "No [1]."]))
    async with ChatKitClient(url) as client:
        await client.login()
        thread_id, _ = await client.new_thread("How do I retry a failed job?")
        for message in ("thanks!", "and can I turn it off?", "Is there a Windows installer?"):
            await client.call(
                "threads.add_user_message", {"thread_id": thread_id, "input": user_input(message)}
            )
    await flush(app)
    turns = await turns_of(engine, thread_id)
    assert [(t["question"], t["follows"]) for t in turns] == [
        ("How do I retry a failed job?", None),
        ("thanks!", None),
        ("and can I turn it off?", "How do I retry a failed job?"),
        ("Is there a Windows installer?", None),
    ]
