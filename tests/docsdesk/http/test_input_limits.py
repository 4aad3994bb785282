"""Input limits over real HTTP on the real store: NUL characters, field and list bounds,
feedback bounds and targets, and rate limits that count requests that fail parsing. Each
refusal is a 400 naming the field, and nothing is written."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any

import pytest

from app import create_app
from chatkit_store import PostgresStore
from docsdesk.core.context import RequestContext
from tests.support.chatkit_client import ChatKitClient, done_items, signed_in, user_input


@asynccontextmanager
async def served(settings, **overrides):
    app = create_app(settings.model_copy(update=overrides))
    async with signed_in(app) as client:
        yield client


@pytest.fixture
async def client(settings):
    async with served(settings) as c:
        yield c


async def snapshot(client: ChatKitClient) -> list[dict]:
    """Every thread of the user with all its items (hidden ones too), straight from the store."""
    store: PostgresStore = client.app.state.services.store
    ctx = RequestContext(user_id=client.user_id)
    threads = (await store.load_threads(100, None, "asc", ctx)).data
    return [
        {
            "thread": thread.model_dump(mode="json"),
            "items": [
                i.model_dump(mode="json")
                for i in (await store.load_thread_items(thread.id, None, 100, "asc", ctx)).data
            ],
        }
        for thread in threads
    ]


def error_of(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    return error["message"]


def tagged_input(text: str, data: Any) -> dict:
    body = user_input(text)
    body["content"].append(
        {"type": "input_tag", "id": "tag1", "text": "tag", "data": data, "interactive": False}
    )
    return body


# --- NUL ---------------------------------------------------------------------------------


async def test_nul_in_a_new_thread_is_refused_before_the_thread_exists(client):
    before = await snapshot(client)
    response = await client.request("threads.create", {"input": user_input("hello \u0000 there")})
    assert "params.input.content.0.text" in error_of(response, 400, "invalid_character")
    assert await snapshot(client) == before


@pytest.mark.parametrize(
    ("where", "metadata", "params_patch"),
    [
        ("metadata.page.title", {"page": {"title": "A\u0000B"}}, {}),
        ("metadata.other", {"other": "\u0000"}, {}),
        ("params.input.quoted_text", None, {"quoted_text": "q\u0000"}),
        ("params.input.inference_options.model", None, {"inference_options": {"model": "m\u0000"}}),
    ],
)
async def test_nul_anywhere_in_a_turn_stores_nothing(client, where, metadata, params_patch):
    thread_id, _ = await client.new_thread("First question")
    before = await snapshot(client)
    body: dict[str, Any] = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": {**user_input("second"), **params_patch}},
    }
    if metadata is not None:
        body["metadata"] = metadata
    response = await client.raw(json.dumps(body))
    assert where in error_of(response, 400, "invalid_character")
    assert await snapshot(client) == before


async def test_an_escaped_backslash_before_u0000_is_text_not_nul(client):
    # The JSON text "\\u0000" is a backslash followed by "u0000": allowed.
    thread_id, events = await client.new_thread("literally \\u0000 here")
    assert done_items(events, "user_message")[0]["content"][0]["text"] == "literally \\u0000 here"


# --- field bounds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "params"),
    [
        ("params.input.content.1.data", {"input": tagged_input("with a tag", {"blob": "x" * 900_000})}),
        (
            "params.input.inference_options.model",
            {"input": {**user_input("hi"), "inference_options": {"model": "m" * 900_000}}},
        ),
        (
            "params.input.inference_options.tool_choice.id",
            {"input": {**user_input("hi"), "inference_options": {"tool_choice": {"id": "t" * 5000}}}},
        ),
        (
            "params.input.attachments",
            {"input": user_input("hi", attachments=[f"atc_{n}" for n in range(11)])},
        ),
        ("params.input.attachments.0", {"input": user_input("hi", attachments=["a" * 1000])}),
        (
            "params.input.content",
            {"input": {**user_input("hi"), "content": [{"type": "input_text", "text": "x"}] * 51}},
        ),
        (
            "params.input.content.1.id",
            {
                "input": {
                    **tagged_input("t", {}),
                    "content": [
                        {"type": "input_text", "text": "x"},
                        {"type": "input_tag", "id": "i" * 300, "text": "t", "data": {}, "interactive": False},
                    ],
                }
            },
        ),
    ],
)
async def test_oversized_fields_of_a_new_thread_are_refused(client, field, params):
    before = await snapshot(client)
    response = await client.request("threads.create", params)
    assert field in error_of(response, 400, "field_too_large")
    assert await snapshot(client) == before


async def test_oversized_ids_and_metadata_are_refused(client):
    thread_id, _ = await client.new_thread("Question")
    before = await snapshot(client)
    cases = [
        ("params.thread_id", "threads.get_by_id", {"thread_id": "thr_" + "x" * 900_000}, None),
        ("params.after", "items.list", {"thread_id": thread_id, "after": "a" * 1000}, None),
        ("metadata", "threads.list", {}, {"blob": "y" * 20_000}),
        (
            "params.result",
            "threads.add_client_tool_output",
            {"thread_id": thread_id, "result": {"r": "z" * 20_000}},
            None,
        ),
    ]
    for field, type_, params, metadata in cases:
        response = await client.request(type_, params, metadata)
        assert field in error_of(response, 400, "field_too_large"), field
    assert await snapshot(client) == before


async def test_a_tag_with_modest_data_is_still_accepted(client):
    events = await client.call("threads.create", {"input": tagged_input("with a tag", {"k": "v" * 1000})})
    assert done_items(events, "user_message")[0]["content"][1]["data"] == {"k": "v" * 1000}


# --- feedback -----------------------------------------------------------------------------


async def test_feedback_with_too_many_ids_is_a_400(client):
    thread_id, events = await client.new_thread("Question")
    answer = done_items(events, "assistant_message")[0]["id"]
    response = await client.request(
        "items.feedback",
        {
            "thread_id": thread_id,
            "item_ids": [answer] + [f"msg_{n}" for n in range(32_765)],
            "kind": "positive",
        },
    )
    assert "params.item_ids" in error_of(response, 400, "field_too_large")
    store: PostgresStore = client.app.state.services.store
    assert await store.load_feedback(thread_id, RequestContext(user_id=client.user_id)) == []


async def test_feedback_rates_assistant_messages_only(client):
    thread_id, events = await client.new_thread("Question")
    question = done_items(events, "user_message")[0]["id"]
    answer = done_items(events, "assistant_message")[0]["id"]
    response = await client.request(
        "items.feedback", {"thread_id": thread_id, "item_ids": [answer, question], "kind": "negative"}
    )
    assert question in error_of(response, 400, "invalid_request")
    store: PostgresStore = client.app.state.services.store
    ctx = RequestContext(user_id=client.user_id)
    assert await store.load_feedback(thread_id, ctx) == []
    assert (
        await client.call(
            "items.feedback", {"thread_id": thread_id, "item_ids": [answer], "kind": "negative"}
        )
        == {}
    )
    assert [(f["item_id"], f["kind"]) for f in await store.load_feedback(thread_id, ctx)] == [
        (answer, "negative")
    ]


# --- rate limits count every request ---------------------------------------------------------


@pytest.mark.parametrize(
    "bad_body",
    [
        b"{not json",
        json.dumps({"type": "threads.explode", "params": {}}).encode(),
        json.dumps({"type": "threads.list", "params": {}, "metadata": {"pad": "x" * 2_000_000}}).encode(),
    ],
    ids=["invalid-json", "unknown-type", "too-large"],
)
async def test_requests_that_fail_parsing_count_against_the_limit(settings, bad_body):
    async with served(settings, rate_limit_reads="3/minute") as client:
        for _ in range(3):
            assert (await client.raw(bad_body)).status_code in (400, 413)
        refused = await client.raw(bad_body)
        error_of(refused, 429, "rate_limited")
        assert int(refused.headers["Retry-After"]) >= 1
        # ... and valid ones share that budget.
        error_of(await client.request("threads.list", {}), 429, "rate_limited")
