"""Small talk ("hi", "thanks!", "ok that worked"): the offline model answers it in a sentence
without searching, every model's turn is recorded as `small_talk` (decided from the reader's
message, migration 0019), and the report counts it apart from the questions."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from docsdesk.assistant.intents import SMALL_TALK_REPLIES
from docsdesk.assistant.offline import OfflineModel
from tests.docsdesk.insights.conftest import admin, flush
from tests.docsdesk.insights.seed import seed, seed_thread, turn
from tests.docsdesk.insights.test_recording import turns_of
from tests.support.chatkit_client import ChatKitClient, done_items, user_input
from tests.test_chatkit_server import TitledScript, use


async def test_the_offline_model_answers_small_talk_without_searching(admin_app, engine):
    url, app = admin_app
    use(app, OfflineModel())
    async with ChatKitClient(url) as client:
        await client.login()
        thread_id, _ = await client.new_thread("How do I install Lantern?")
        events = await client.call(
            "threads.add_user_message",
            {"thread_id": thread_id, "input": user_input("ok that worked, thanks!")},
        )
    reply = done_items(events, "assistant_message")[-1]["content"][0]
    assert reply["text"] == SMALL_TALK_REPLIES["thanks"] and not reply["annotations"]
    await flush(app)
    question, thanks = await turns_of(engine, thread_id)
    assert question["outcome"] == "answered"
    assert (
        thanks["outcome"] == "small_talk"
        and thanks["searches"] == []
        and thanks["not_covered_reason"] is None
    )


async def test_a_language_models_small_talk_turn_is_recorded_as_such(admin_app, engine):
    """The model replies in its own words; the outcome comes from the reader's message."""
    url, app = admin_app
    use(app, TitledScript(["Hello! What would you like to know?", "Answered [1]."]))
    async with ChatKitClient(url) as client:
        await client.login()
        greeting, _ = await client.new_thread("hi there")
        question, _ = await client.new_thread("thanks! and how do I retry a job?")  # a question too
    await flush(app)
    [hello] = await turns_of(engine, greeting)
    [asked] = await turns_of(engine, question)
    assert hello["outcome"] == "small_talk" and hello["answer"] == "Hello! What would you like to know?"
    assert asked["outcome"] == "answered"


async def test_the_report_counts_small_talk_apart_from_the_questions(admin_app, engine, collection):
    url, _ = admin_app
    thread = await seed_thread(engine)
    await seed(
        engine,
        [
            *(turn(thread, "thanks!", collection, outcome="small_talk") for _ in range(3)),
            turn(thread, "How do I retry?", collection),
            turn(thread, "Does it run on Windows?", collection, outcome="not_covered"),
        ],
    )
    async with admin(url) as http:
        report = (await http.get("/admin/api/report", params={"days": 30})).json()
    totals = report["totals"]
    assert (totals["turns"], totals["questions"], totals["small_talk"]) == (5, 2, 3)
    assert {q["question"] for q in report["top_questions"]} == {"How do I retry?", "Does it run on Windows?"}
    assert sum(day["small_talk"] for day in report["per_day"]) == 3


async def test_the_outcome_is_checked_by_the_database(engine, collection):
    thread = await seed_thread(engine)
    async with engine.begin() as conn:
        with pytest.raises(IntegrityError, match="ck_turns_outcome"):
            await conn.execute(
                text(
                    "INSERT INTO turns (thread_id, tenant_id, user_hash, collection, question, outcome, model)"
                    " VALUES (:t, '', 'u', :c, 'q', 'chit_chat', 'm')"
                ),
                {"t": thread, "c": collection},
            )
