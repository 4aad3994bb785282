"""Contract suite for PostgresStore on a real PostgreSQL: every Store method, ownership
isolation, pagination, cascades, feedback, and the store driven by the real ChatKitServer."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    HiddenContextItem,
    ImageAttachment,
    InferenceOptions,
    LockedStatus,
    Page,
    SDKHiddenContextItem,
    Thread,
    ThreadItemDoneEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
)
from chatkit.widgets import Card, Text
from sqlalchemy import text

from chatkit_store import MAX_PAGE_LIMIT, PostgresStore
from docsdesk.core.context import RequestContext
from tests.support import new_id

# All items share one created_at: ordering must come from the store's sequence, not time.
TIED = datetime(2024, 5, 1, 12, 0, 0)


@pytest.fixture
def store(engine) -> PostgresStore:
    return PostgresStore(engine)


def new_ctx() -> RequestContext:
    return RequestContext(user_id=new_id("user"), tenant_id=new_id("tenant"))


def user_message(store: PostgresStore, thread: ThreadMetadata, ctx: RequestContext, text_: str):
    return UserMessageItem(
        id=store.generate_item_id("message", thread, ctx),
        thread_id=thread.id,
        created_at=TIED,
        content=[UserMessageTextContent(text=text_)],
        inference_options=InferenceOptions(),
    )


def assistant_message(store: PostgresStore, thread: ThreadMetadata, ctx: RequestContext, text_: str):
    return AssistantMessageItem(
        id=store.generate_item_id("message", thread, ctx),
        thread_id=thread.id,
        created_at=TIED,
        content=[AssistantMessageContent(text=text_)],
    )


async def new_thread(store: PostgresStore, ctx: RequestContext, **fields: Any) -> ThreadMetadata:
    thread = ThreadMetadata(id=store.generate_thread_id(ctx), created_at=TIED, **fields)
    await store.save_thread(thread, ctx)
    return thread


async def add_messages(store, thread, ctx, count: int, make=None) -> list[str]:
    """`count` user messages (or items made by `make`, e.g. `assistant_message`), their ids."""
    make = make or user_message
    ids = []
    for n in range(count):
        item = make(store, thread, ctx, f"message {n}")
        await store.add_thread_item(thread.id, item, ctx)
        ids.append(item.id)
    return ids


async def add_answers(store, thread, ctx, count: int) -> list[str]:
    """Assistant messages: the items feedback may rate."""
    return await add_messages(store, thread, ctx, count, assistant_message)


async def collect_items(store, thread_id, ctx, limit, order) -> list[str]:
    """Walk every page, checking the cursor contract on the way."""
    seen, after = [], None
    while True:
        page = await store.load_thread_items(thread_id, after, limit, order, ctx)
        assert len(page.data) <= limit
        seen.extend(item.id for item in page.data)
        if not page.has_more:
            assert page.after is None  # the SDK's contract: no cursor on the last page
            return seen
        assert page.after == page.data[-1].id
        after = page.after


async def collect_threads(store, ctx, limit, order) -> list[str]:
    seen, after = [], None
    while True:
        page = await store.load_threads(limit, after, order, ctx)
        assert len(page.data) <= limit
        seen.extend(thread.id for thread in page.data)
        if not page.has_more:
            assert page.after is None  # the SDK's contract: no cursor on the last page
            return seen
        assert page.after == page.data[-1].id
        after = page.after


async def owned_rows(engine, ctx: RequestContext) -> dict[str, list[dict]]:
    """Every row the owner has, all columns, for before/after comparisons."""
    snapshot = {}
    async with engine.connect() as conn:
        for table, key in (
            ("threads", "id"),
            ("items", "id"),
            ("attachments", "id"),
            ("feedback", "item_id"),
        ):
            result = await conn.execute(
                text(f"SELECT * FROM {table} WHERE tenant_id = :t AND user_id = :u ORDER BY {key}"),
                {"t": ctx.tenant_id, "u": ctx.user_id},
            )
            snapshot[table] = [dict(row) for row in result.mappings()]
    return snapshot


async def count(engine, sql: str, **params: Any) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(text(sql), params)


# --- ids ---------------------------------------------------------------------------


def test_ids_keep_sdk_prefixes_and_carry_128_random_bits(store):
    ctx = new_ctx()
    thread = ThreadMetadata(id="thr_x", created_at=TIED)
    expected = {
        "thr": store.generate_thread_id(ctx),
        "msg": store.generate_item_id("message", thread, ctx),
        "tc": store.generate_item_id("tool_call", thread, ctx),
        "wf": store.generate_item_id("workflow", thread, ctx),
        "tsk": store.generate_item_id("task", thread, ctx),
        "atc": store.generate_attachment_id("text/plain", ctx),
        "shcx": store.generate_item_id("sdk_hidden_context", thread, ctx),
    }
    for prefix, value in expected.items():
        assert re.fullmatch(rf"{prefix}_[0-9a-f]{{32}}", value), value
    assert len({store.generate_thread_id(ctx) for _ in range(1000)}) == 1000


# --- threads -----------------------------------------------------------------------


async def test_save_thread_upserts_and_round_trips_metadata(store, engine):
    ctx = new_ctx()
    thread = await new_thread(
        store,
        ctx,
        title="First",
        allowed_image_domains=["docs.example.com"],
        metadata={"site": "docs", "nested": {"list": [1, 2.5, None, "x"]}},
    )
    assert await store.load_thread(thread.id, ctx) == thread

    changed = thread.model_copy(
        update={"title": "Renamed", "status": LockedStatus(reason="read only"), "metadata": {"v": 2}}
    )
    await store.save_thread(changed, ctx)
    assert await store.load_thread(thread.id, ctx) == changed
    assert await count(engine, "SELECT count(*) FROM threads WHERE id = :id", id=thread.id) == 1


async def test_save_thread_given_a_thread_with_items_stores_metadata_only(store, engine):
    ctx = new_ctx()
    meta = ThreadMetadata(id=store.generate_thread_id(ctx), created_at=TIED, title="t")
    item = user_message(store, meta, ctx, "inline")
    full = Thread(**meta.model_dump(), items=Page(data=[item]))

    await store.save_thread(full, ctx)

    loaded = await store.load_thread(meta.id, ctx)
    assert type(loaded) is ThreadMetadata and loaded == meta
    assert await count(engine, "SELECT count(*) FROM items WHERE thread_id = :id", id=meta.id) == 0
    assert (
        await count(engine, "SELECT count(*) FROM threads WHERE id = :id AND data ? 'items'", id=meta.id) == 0
    )


async def test_threads_are_listed_by_activity_in_both_orders(store):
    ctx = new_ctx()
    created = [await new_thread(store, ctx, title=f"t{n}") for n in range(7)]
    ids = [thread.id for thread in created]
    assert await collect_threads(store, ctx, 3, "desc") == ids[::-1]

    # An added item, a saved item and a saved thread each move a thread to the front.
    await add_messages(store, created[2], ctx, 1)
    item = assistant_message(store, created[5], ctx, "x")
    await store.add_thread_item(created[5].id, item, ctx)
    await store.save_thread(created[0], ctx)
    await store.save_item(created[2].id, user_message(store, created[2], ctx, "y"), ctx)
    expected_desc = [ids[2], ids[0], ids[5], ids[6], ids[4], ids[3], ids[1]]

    for limit in (1, 2, 3, 7, 50):
        assert await collect_threads(store, ctx, limit, "desc") == expected_desc
        assert await collect_threads(store, ctx, limit, "asc") == expected_desc[::-1]

    first = await store.load_threads(2, None, "desc", ctx)
    assert first.has_more and first.after == ids[0]
    last = await store.load_threads(7, None, "desc", ctx)
    assert not last.has_more


async def test_delete_thread_cascades_to_items_attachments_and_feedback(store, engine):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    other = await new_thread(store, ctx)
    item_ids = await add_answers(store, thread, ctx, 3)
    kept_ids = await add_answers(store, other, ctx, 2)
    attachment = FileAttachment(
        id=store.generate_attachment_id("text/plain", ctx),
        name="a.txt",
        mime_type="text/plain",
        thread_id=thread.id,
    )
    await store.save_attachment(attachment, ctx)
    await store.add_feedback(thread.id, item_ids[:2], "positive", ctx)
    await store.add_feedback(other.id, kept_ids, "negative", ctx)

    await store.delete_thread(thread.id, ctx)

    for table in ("items", "attachments", "feedback"):
        assert await count(engine, f"SELECT count(*) FROM {table} WHERE thread_id = :id", id=thread.id) == 0
    assert await count(engine, "SELECT count(*) FROM items WHERE id = ANY(:ids)", ids=item_ids) == 0
    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, ctx)
    with pytest.raises(NotFoundError):
        await store.load_attachment(attachment.id, ctx)
    with pytest.raises(NotFoundError):
        await store.delete_thread(thread.id, ctx)
    # the sibling thread is untouched
    assert await collect_items(store, other.id, ctx, 10, "asc") == kept_ids
    assert [row["item_id"] for row in await store.load_feedback(other.id, ctx)] == kept_ids


# --- items -------------------------------------------------------------------------


async def test_every_item_type_round_trips(store):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    attachment = ImageAttachment(
        id=store.generate_attachment_id("image/png", ctx),
        name="p.png",
        mime_type="image/png",
        preview_url="https://cdn.example.com/p.png",
        thread_id=thread.id,
        metadata={"bucket": "b1"},
    )
    base = {"thread_id": thread.id, "created_at": TIED}
    variants = [
        UserMessageItem(
            id="msg_u",
            content=[UserMessageTextContent(text="hi")],
            attachments=[attachment],
            quoted_text="quote",
            inference_options=InferenceOptions(model="m"),
            **base,
        ),
        AssistantMessageItem(id="msg_a", content=[AssistantMessageContent(text="hello")], **base),
        ClientToolCallItem(id="tc_1", call_id="c1", name="f", arguments={"a": [1, {"b": None}]}, **base),
        WidgetItem(id="w_1", widget=Card(children=[Text(value="v")]), copy_text="v", **base),
        WorkflowItem(
            id="wf_1",
            workflow=Workflow(type="custom", tasks=[CustomTask(title="step")]),
            **base,
        ),
        HiddenContextItem(id="hc_1", content={"page": "/x"}, **base),
        SDKHiddenContextItem(id="shcx_1", content="cancelled", **base),
        EndOfTurnItem(id="eot_1", **base),
    ]
    ids = [f"{v.id}_{new_id()}" for v in variants]
    variants = [v.model_copy(update={"id": i}) for v, i in zip(variants, ids)]
    for item in variants:
        await store.add_thread_item(thread.id, item, ctx)
    for item in variants:
        assert await store.load_item(thread.id, item.id, ctx) == item
    page = await store.load_thread_items(thread.id, None, 20, "asc", ctx)
    assert page.data == variants and not page.has_more


async def test_add_thread_item_is_idempotent_and_save_item_upserts(store, engine):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    ids = await add_messages(store, thread, ctx, 3)
    first = await store.load_item(thread.id, ids[0], ctx)

    # re-adding (the SDK re-adds open workflows) updates in place: no error, no duplicate
    edited = first.model_copy(update={"quoted_text": "edited"})
    await store.add_thread_item(thread.id, edited, ctx)
    await store.add_thread_item(thread.id, edited, ctx)
    assert await store.load_item(thread.id, ids[0], ctx) == edited
    assert await collect_items(store, thread.id, ctx, 10, "asc") == ids

    # save_item updates an existing item and inserts a new one
    saved = edited.model_copy(update={"quoted_text": "saved"})
    await store.save_item(thread.id, saved, ctx)
    fresh = assistant_message(store, thread, ctx, "fresh")
    await store.save_item(thread.id, fresh, ctx)
    assert await store.load_item(thread.id, ids[0], ctx) == saved
    assert await collect_items(store, thread.id, ctx, 10, "asc") == [*ids, fresh.id]
    assert await count(engine, "SELECT count(*) FROM items WHERE thread_id = :id", id=thread.id) == 4


async def test_items_belong_to_one_thread(store):
    ctx = new_ctx()
    thread, other = await new_thread(store, ctx), await new_thread(store, ctx)
    item = user_message(store, thread, ctx, "home")
    await store.add_thread_item(thread.id, item, ctx)

    with pytest.raises(NotFoundError):
        await store.load_item(other.id, item.id, ctx)
    moved = item.model_copy(update={"thread_id": other.id})
    for write in (store.save_item, store.add_thread_item):
        with pytest.raises(NotFoundError):
            await write(other.id, moved, ctx)
    await store.delete_thread_item(other.id, item.id, ctx)  # not in `other`: a no-op
    with pytest.raises(NotFoundError):  # a cursor from another thread
        await store.load_thread_items(other.id, item.id, 10, "asc", ctx)
    with pytest.raises(ValueError):  # the item says it belongs to a different thread
        await store.save_item(other.id, item, ctx)
    assert await store.load_item(thread.id, item.id, ctx) == item
    assert (await store.load_thread_items(other.id, None, 10, "asc", ctx)).data == []
    # the failed writes were rolled back whole: `other`'s activity did not move
    assert [t.id for t in (await store.load_threads(10, None, "desc", ctx)).data] == [thread.id, other.id]


async def test_missing_things_raise_not_found(store):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    item = user_message(store, ThreadMetadata(id="thr_missing", created_at=TIED), ctx, "x")
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: store.load_thread("thr_missing", ctx),
        lambda: store.delete_thread("thr_missing", ctx),
        lambda: store.load_thread_items("thr_missing", None, 10, "asc", ctx),
        lambda: store.load_thread_items(thread.id, "msg_missing", 10, "asc", ctx),
        lambda: store.load_threads(10, "thr_missing", "desc", ctx),
        lambda: store.load_item(thread.id, "msg_missing", ctx),
        lambda: store.add_thread_item("thr_missing", item, ctx),
        lambda: store.save_item("thr_missing", item, ctx),
        lambda: store.load_attachment("atc_missing", ctx),
        lambda: store.save_attachment(
            FileAttachment(id="atc_x", name="n", mime_type="text/plain", thread_id="thr_missing"), ctx
        ),
        lambda: store.add_feedback("thr_missing", [], "positive", ctx),
        lambda: store.add_feedback(thread.id, ["msg_missing"], "positive", ctx),
        lambda: store.load_feedback("thr_missing", ctx),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            await call()
    # Deleting what is not there, in the caller's own thread, is a no-op (the SDK's contract:
    # its guardrail clean-up removes items that were never stored).
    await store.delete_thread_item(thread.id, "msg_missing", ctx)
    await store.delete_attachment("atc_missing", ctx)
    assert (await store.load_thread(thread.id, ctx)).id == thread.id


async def test_delete_thread_item_removes_it_and_its_feedback(store, engine):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    ids = await add_answers(store, thread, ctx, 3)
    await store.add_feedback(thread.id, ids, "negative", ctx)

    await store.delete_thread_item(thread.id, ids[1], ctx)

    assert await collect_items(store, thread.id, ctx, 10, "asc") == [ids[0], ids[2]]
    assert await count(engine, "SELECT count(*) FROM feedback WHERE item_id = :id", id=ids[1]) == 0
    assert [row["item_id"] for row in await store.load_feedback(thread.id, ctx)] == [ids[0], ids[2]]
    with pytest.raises(NotFoundError):
        await store.load_item(thread.id, ids[1], ctx)


# --- pagination --------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 4, 5, 23, 40])
async def test_item_pages_with_tied_timestamps_have_no_gaps_or_duplicates(store, limit):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    ids = await add_messages(store, thread, ctx, 20)
    assert await collect_items(store, thread.id, ctx, limit, "asc") == ids
    assert await collect_items(store, thread.id, ctx, limit, "desc") == ids[::-1]


async def test_item_page_boundaries_and_cursors(store):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    ids = await add_messages(store, thread, ctx, 10)

    page = await store.load_thread_items(thread.id, None, 5, "asc", ctx)
    assert [i.id for i in page.data] == ids[:5] and page.has_more and page.after == ids[4]
    page = await store.load_thread_items(thread.id, page.after, 5, "asc", ctx)
    assert [i.id for i in page.data] == ids[5:] and not page.has_more

    page = await store.load_thread_items(thread.id, ids[3], 2, "desc", ctx)
    assert [i.id for i in page.data] == [ids[2], ids[1]] and page.has_more and page.after == ids[1]
    page = await store.load_thread_items(thread.id, ids[-1], 5, "asc", ctx)
    assert page.data == [] and not page.has_more

    empty = await new_thread(store, ctx)
    page = await store.load_thread_items(empty.id, None, 5, "desc", ctx)
    assert page.data == [] and not page.has_more


async def test_seen_newest_answers_one_read_from_the_page_it_was_given(store):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    ids = await add_messages(store, thread, ctx, 4)
    newest = await store.load_thread_items(thread.id, None, 3, "desc", ctx)
    other = RequestContext(user_id=ctx.user_id, tenant_id=ctx.tenant_id)  # another request, same reader
    later = user_message(store, thread, other, "written meanwhile by another request")
    await store.add_thread_item(thread.id, later, other)

    store.seen_newest(thread.id, newest, ctx)
    page = await store.load_thread_items(thread.id, None, 2, "desc", ctx)  # from `newest`
    assert [i.id for i in page.data] == [ids[3], ids[2]] and page.has_more and page.after == ids[2]
    page = await store.load_thread_items(thread.id, None, 2, "desc", ctx)  # once: now the database
    assert [i.id for i in page.data] == [later.id, ids[3]]
    store.seen_newest(thread.id, newest, ctx)
    page = await store.load_thread_items(thread.id, None, 2, "desc", other)  # another request's
    assert [i.id for i in page.data] == [later.id, ids[3]]

    # Only a first "desc" page of that thread no longer than the given one.
    for args in ((thread.id, None, 2, "asc"), (thread.id, ids[3], 2, "desc"), (thread.id, None, 4, "desc")):
        store.seen_newest(thread.id, newest, ctx)
        read = await store.load_thread_items(*args, ctx)
        assert read == await store.load_thread_items(*args, other), args  # from the database
    # What the request saves meanwhile is seen as the newest.
    store.seen_newest(thread.id, newest, ctx)
    mine = user_message(store, thread, ctx, "saved through this request")
    await store.add_thread_item(thread.id, mine, ctx)
    page = await store.load_thread_items(thread.id, None, 2, "desc", ctx)
    assert [i.id for i in page.data] == [mine.id, ids[3]]
    whole = await store.load_thread_items(thread.id, None, 50, "desc", ctx)
    store.seen_newest(thread.id, whole, ctx)  # the whole thread: any limit is answered
    assert [i.id for i in (await store.load_thread_items(thread.id, None, 10, "desc", ctx)).data] == [
        i.id for i in whole.data
    ]


async def test_bad_page_arguments_are_value_errors(store):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    for limit, order in ((0, "asc"), (-1, "desc"), (MAX_PAGE_LIMIT + 1, "asc"), (10, "sideways")):
        with pytest.raises(ValueError):
            await store.load_thread_items(thread.id, None, limit, order, ctx)
        with pytest.raises(ValueError):
            await store.load_threads(limit, None, order, ctx)


# --- attachments -------------------------------------------------------------------


async def test_attachments_upsert_round_trip_and_delete(store, engine):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    attachment = FileAttachment(
        id=store.generate_attachment_id("text/plain", ctx),
        name="notes.txt",
        mime_type="text/plain",
        metadata={"storage_key": "s3://bucket/notes.txt", "size": 12},
    )
    await store.save_attachment(attachment, ctx)
    assert await store.load_attachment(attachment.id, ctx) == attachment

    linked = attachment.model_copy(update={"thread_id": thread.id, "name": "renamed.txt"})
    await store.save_attachment(linked, ctx)
    assert await store.load_attachment(attachment.id, ctx) == linked
    assert (
        await count(
            engine,
            "SELECT count(*) FROM attachments WHERE id = :id AND thread_id = :t",
            id=attachment.id,
            t=thread.id,
        )
        == 1
    )

    await store.delete_attachment(attachment.id, ctx)
    with pytest.raises(NotFoundError):
        await store.load_attachment(attachment.id, ctx)
    await store.delete_attachment(attachment.id, ctx)  # already gone: a no-op


# --- feedback ----------------------------------------------------------------------


async def test_feedback_is_persisted_replaced_and_validated(store):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    ids = await add_answers(store, thread, ctx, 3)

    await store.add_feedback(thread.id, [ids[0], ids[1], ids[0]], "positive", ctx)
    rows = await store.load_feedback(thread.id, ctx)
    assert [(r["item_id"], r["kind"]) for r in rows] == [(ids[0], "positive"), (ids[1], "positive")]
    assert all(
        r["thread_id"] == thread.id
        and r["user_id"] == ctx.user_id
        and r["tenant_id"] == ctx.tenant_id
        and isinstance(r["created_at"], datetime)
        for r in rows
    )

    await store.add_feedback(thread.id, [ids[1]], "negative", ctx)
    after_replace = await store.load_feedback(thread.id, ctx)
    assert [(r["item_id"], r["kind"]) for r in after_replace] == [(ids[0], "positive"), (ids[1], "negative")]

    # one bad id: nothing at all is written
    with pytest.raises(NotFoundError):
        await store.add_feedback(thread.id, [ids[2], ids[0], "msg_missing"], "negative", ctx)
    with pytest.raises(ValueError):
        await store.add_feedback(thread.id, [ids[2]], "meh", ctx)  # type: ignore[arg-type]
    assert await store.load_feedback(thread.id, ctx) == after_replace

    other = await new_thread(store, ctx)
    with pytest.raises(NotFoundError):  # the item is not in that thread
        await store.add_feedback(other.id, [ids[2]], "positive", ctx)
    assert await store.load_feedback(other.id, ctx) == []


async def test_feedback_rates_assistant_messages_only_and_takes_any_number_of_ids(store):
    ctx = new_ctx()
    thread = await new_thread(store, ctx)
    answer = (await add_answers(store, thread, ctx, 1))[0]
    question = (await add_messages(store, thread, ctx, 1))[0]
    with pytest.raises(ValueError, match="only assistant messages"):
        await store.add_feedback(thread.id, [answer, question], "positive", ctx)
    assert await store.load_feedback(thread.id, ctx) == []  # nothing written
    # One array parameter: more ids than asyncpg's 32,767 bind parameters is still one query.
    with pytest.raises(NotFoundError):
        await store.add_feedback(thread.id, [answer] + [f"msg_{n}" for n in range(40_000)], "positive", ctx)
    await store.add_feedback(thread.id, [answer], "positive", ctx)
    assert [r["item_id"] for r in await store.load_feedback(thread.id, ctx)] == [answer]


# --- ownership ---------------------------------------------------------------------


@pytest.mark.parametrize("intruder_kind", ["other user, same tenant", "same user, other tenant"])
async def test_foreign_owner_gets_not_found_everywhere_and_changes_nothing(store, engine, intruder_kind):
    owner = new_ctx()
    if intruder_kind == "other user, same tenant":
        intruder = RequestContext(user_id=new_id("user"), tenant_id=owner.tenant_id)
    else:
        intruder = RequestContext(user_id=owner.user_id, tenant_id=new_id("tenant"))

    thread = await new_thread(store, owner, title="private", metadata={"secret": True})
    item_ids = await add_answers(store, thread, owner, 3)
    attachment = FileAttachment(
        id=store.generate_attachment_id("text/plain", owner),
        name="private.txt",
        mime_type="text/plain",
        thread_id=thread.id,
    )
    await store.save_attachment(attachment, owner)
    await store.add_feedback(thread.id, item_ids[:1], "positive", owner)
    own_thread = await new_thread(store, intruder)  # the intruder's own, legitimate thread
    before = await owned_rows(engine, owner)

    hijack = user_message(store, thread, intruder, "hijack")
    stolen_item = (await store.load_item(thread.id, item_ids[0], owner)).model_copy(
        update={"thread_id": own_thread.id, "quoted_text": "stolen"}
    )
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "load_thread": lambda: store.load_thread(thread.id, intruder),
        "save_thread": lambda: store.save_thread(thread.model_copy(update={"title": "pwned"}), intruder),
        "load_threads after": lambda: store.load_threads(10, thread.id, "desc", intruder),
        "load_thread_items": lambda: store.load_thread_items(thread.id, None, 10, "asc", intruder),
        "load_thread_items after": lambda: store.load_thread_items(
            own_thread.id, item_ids[0], 10, "asc", intruder
        ),
        "load_item": lambda: store.load_item(thread.id, item_ids[0], intruder),
        "add_thread_item": lambda: store.add_thread_item(thread.id, hijack, intruder),
        "save_item": lambda: store.save_item(thread.id, hijack, intruder),
        "add_thread_item steal id": lambda: store.add_thread_item(own_thread.id, stolen_item, intruder),
        "save_item steal id": lambda: store.save_item(own_thread.id, stolen_item, intruder),
        "delete_thread_item": lambda: store.delete_thread_item(thread.id, item_ids[1], intruder),
        "delete_thread": lambda: store.delete_thread(thread.id, intruder),
        "load_attachment": lambda: store.load_attachment(attachment.id, intruder),
        "save_attachment steal id": lambda: store.save_attachment(
            attachment.model_copy(update={"thread_id": None, "name": "pwned"}), intruder
        ),
        "save_attachment into foreign thread": lambda: store.save_attachment(
            FileAttachment(
                id=store.generate_attachment_id("text/plain", intruder),
                name="x",
                mime_type="text/plain",
                thread_id=thread.id,
            ),
            intruder,
        ),
        "add_feedback": lambda: store.add_feedback(thread.id, item_ids, "negative", intruder),
        "add_feedback foreign item": lambda: store.add_feedback(
            own_thread.id, item_ids[:1], "negative", intruder
        ),
        "load_feedback": lambda: store.load_feedback(thread.id, intruder),
    }
    for name, call in calls.items():
        with pytest.raises(NotFoundError):
            await call()
            pytest.fail(f"{name} did not raise NotFoundError")
    # Deleting an attachment id the intruder does not own touches nothing (checked below).
    await store.delete_attachment(attachment.id, intruder)

    assert await owned_rows(engine, owner) == before
    assert (await store.load_threads(10, None, "desc", intruder)).data == [own_thread]
    assert (await store.load_thread_items(own_thread.id, None, 10, "asc", intruder)).data == []
    assert await count(engine, "SELECT count(*) FROM attachments WHERE thread_id = :t", t=thread.id) == 1


# --- bad input ---------------------------------------------------------------------


async def test_unstorable_input_is_a_value_error_and_loses_nothing(store):
    ctx = new_ctx()
    thread = await new_thread(store, ctx, title="keep")
    ids = await add_messages(store, thread, ctx, 1)

    with pytest.raises(ValueError):
        await store.add_thread_item(thread.id, user_message(store, thread, ctx, "nul \x00 char"), ctx)
    with pytest.raises(ValueError):
        await store.save_thread(thread.model_copy(update={"title": "nul \x00"}), ctx)
    with pytest.raises(ValueError):
        await store.load_thread("thr_\x00", ctx)

    assert (await store.load_thread(thread.id, ctx)).title == "keep"
    assert await collect_items(store, thread.id, ctx, 10, "asc") == ids


# --- through the real ChatKitServer ------------------------------------------------


class EchoServer(ChatKitServer[RequestContext]):
    """Minimal server: answers every message with an echo, records feedback in the store."""

    store: PostgresStore

    async def respond(self, thread, input_user_message, context) -> AsyncIterator[ThreadStreamEvent]:
        said = input_user_message.content[0].text if input_user_message else ""
        yield ThreadItemDoneEvent(
            item=AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[AssistantMessageContent(text=f"echo: {said}")],
            )
        )

    async def add_feedback(self, thread_id, item_ids, feedback, context) -> None:
        await self.store.add_feedback(thread_id, item_ids, feedback, context)


async def call(server: EchoServer, ctx: RequestContext, request: dict) -> Any:
    result = await server.process(json.dumps(request), ctx)
    if isinstance(result, NonStreamingResult):
        return json.loads(result.json)
    assert isinstance(result, StreamingResult)
    return [json.loads(chunk.removeprefix(b"data: ")) async for chunk in result]


def message_input(text_: str) -> dict:
    return {"content": [{"type": "input_text", "text": text_}], "attachments": [], "inference_options": {}}


async def test_store_behind_the_real_chatkit_server(store):
    server = EchoServer(store)
    ctx = new_ctx()

    events = await call(server, ctx, {"type": "threads.create", "params": {"input": message_input("one")}})
    thread_id = events[0]["thread"]["id"]
    assert thread_id.startswith("thr_")
    await call(
        server,
        ctx,
        {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": message_input("two")},
        },
    )

    listed = await call(server, ctx, {"type": "threads.list", "params": {"limit": 5}})
    assert [t["id"] for t in listed["data"]] == [thread_id]

    items = await call(
        server, ctx, {"type": "items.list", "params": {"thread_id": thread_id, "order": "asc"}}
    )
    texts = [item["content"][0]["text"] for item in items["data"]]
    assert texts == ["one", "echo: one", "two", "echo: two"]

    first_page = await call(
        server, ctx, {"type": "items.list", "params": {"thread_id": thread_id, "limit": 3, "order": "desc"}}
    )
    assert first_page["has_more"] and first_page["after"] == items["data"][1]["id"]

    full = await call(server, ctx, {"type": "threads.get_by_id", "params": {"thread_id": thread_id}})
    assert [item["id"] for item in full["items"]["data"]] == [item["id"] for item in items["data"]]

    answer_id = items["data"][1]["id"]
    await call(
        server,
        ctx,
        {
            "type": "items.feedback",
            "params": {"thread_id": thread_id, "item_ids": [answer_id], "kind": "positive"},
        },
    )
    assert [(r["item_id"], r["kind"]) for r in await store.load_feedback(thread_id, ctx)] == [
        (answer_id, "positive")
    ]

    await call(server, ctx, {"type": "threads.update", "params": {"thread_id": thread_id, "title": "Named"}})
    assert (await store.load_thread(thread_id, ctx)).title == "Named"

    with pytest.raises(NotFoundError):
        await call(server, new_ctx(), {"type": "threads.get_by_id", "params": {"thread_id": thread_id}})

    await call(server, ctx, {"type": "threads.delete", "params": {"thread_id": thread_id}})
    assert (await call(server, ctx, {"type": "threads.list", "params": {}}))["data"] == []


def test_id_prefixes_are_the_sdks_for_every_kind():
    """The store's own prefix table (the SDK's is private) matches what the SDK's public
    `default_generate_id` produces, for every kind the SDK defines."""
    from typing import get_args

    from chatkit.store import StoreItemType, default_generate_id

    from chatkit_store.store import ID_PREFIXES, new_id

    kinds = get_args(StoreItemType)
    assert set(ID_PREFIXES) == set(kinds)
    for kind in kinds:
        sdk_prefix = default_generate_id(kind).rsplit("_", 1)[0]
        assert ID_PREFIXES[kind] == sdk_prefix, kind
        assert re.fullmatch(rf"{sdk_prefix}_[0-9a-f]{{32}}", new_id(kind))
