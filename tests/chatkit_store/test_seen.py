"""What a request has seen of a thread (chatkit_store/seen.py): the newest items read with the
thread, plus the request's own writes, serve its first "desc" page once, as the database would
have at the request's load, and never another request's writes."""

from __future__ import annotations

import pytest
from chatkit.store import NotFoundError
from sqlalchemy import event
from sqlalchemy.engine import Engine

from chatkit_store import PostgresStore
from docsdesk.core.context import RequestContext
from tests.chatkit_store.test_store import add_messages, new_ctx, new_thread, user_message


def reading(ctx: RequestContext, items: int) -> RequestContext:
    """`ctx`'s caller, in a new request that reads `items` newest items with the thread."""
    return RequestContext(user_id=ctx.user_id, tenant_id=ctx.tenant_id, items_with_thread=items)


class Statements:
    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> Statements:
        event.listen(Engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._count)

    def _count(self, *args: object) -> None:
        self.count += 1


@pytest.fixture
def store(engine) -> PostgresStore:
    return PostgresStore(engine)


@pytest.mark.parametrize(
    "stored, read, limit", [(3, 5, 5), (7, 5, 5), (7, 5, 3), (7, 5, 6), (7, 5, 7), (0, 5, 2)]
)
async def test_the_first_page_after_a_load_is_the_databases_with_the_requests_own_writes(
    store, stored, read, limit
):
    owner = new_ctx()
    thread = await new_thread(store, owner)
    await add_messages(store, thread, owner, stored)
    ctx = reading(owner, read)
    with Statements() as statements:
        assert await store.load_thread(thread.id, ctx) == thread
    assert statements.count == 1  # the thread and its newest items: one statement
    question = user_message(store, thread, ctx, "the request's own message")
    await store.add_thread_item(thread.id, question, ctx)
    question.content[0].text = "saved again, in place"
    await store.save_item(thread.id, question, ctx)

    expected = await store.load_thread_items(thread.id, None, limit, "desc", owner)
    with Statements() as statements:
        served = await store.load_thread_items(thread.id, None, limit, "desc", ctx)
    if limit > read + 1 and stored > read:
        assert statements.count == 1 and served == expected  # more than was read: the database
        return
    assert statements.count == 0 and served == expected
    assert served.data[0].content[0].text == "saved again, in place"
    with Statements() as statements:  # once: the next read is the database's
        assert await store.load_thread_items(thread.id, None, limit, "desc", ctx) == expected
    assert statements.count == 1


async def test_two_messages_at_once_each_see_the_thread_as_loaded_and_their_own_message(store):
    owner = new_ctx()
    thread = await new_thread(store, owner)
    earlier = await add_messages(store, thread, owner, 2)
    first, second = reading(owner, 50), reading(owner, 50)
    await store.load_thread(thread.id, first)
    await store.load_thread(thread.id, second)
    mine = user_message(store, thread, first, "first")
    theirs = user_message(store, thread, second, "second")
    await store.add_thread_item(thread.id, mine, first)
    await store.add_thread_item(thread.id, theirs, second)

    seen_first = await store.load_thread_items(thread.id, None, 50, "desc", first)
    seen_second = await store.load_thread_items(thread.id, None, 50, "desc", second)
    assert [i.id for i in seen_first.data] == [mine.id, *reversed(earlier)]
    assert [i.id for i in seen_second.data] == [theirs.id, *reversed(earlier)]
    later = await store.load_thread_items(thread.id, None, 50, "desc", owner)  # a later request: both
    assert [i.id for i in later.data] == [theirs.id, mine.id, *reversed(earlier)]


async def test_only_a_first_desc_page_of_that_thread_is_served_and_a_delete_forgets(store):
    owner = new_ctx()
    thread = await new_thread(store, owner)
    other = await new_thread(store, owner)
    ids = await add_messages(store, thread, owner, 4)
    await add_messages(store, other, owner, 1)
    for args in ((other.id, None, 2, "desc"), (thread.id, None, 2, "asc"), (thread.id, ids[2], 2, "desc")):
        ctx = reading(owner, 10)
        await store.load_thread(thread.id, ctx)
        with Statements() as statements:
            assert await store.load_thread_items(*args, ctx) == await store.load_thread_items(*args, owner)
        assert statements.count == 2, args  # both from the database
    ctx = reading(owner, 10)
    await store.load_thread(thread.id, ctx)
    await store.delete_thread_item(thread.id, ids[3], ctx)
    assert ctx.seen_items is None
    page = await store.load_thread_items(thread.id, None, 10, "desc", ctx)
    assert [i.id for i in page.data] == [ids[2], ids[1], ids[0]]


async def test_a_thread_this_request_creates_is_seen_empty_and_someone_elses_is_missing(store):
    owner = new_ctx()
    ctx = reading(owner, 10)
    thread = await new_thread(store, ctx)  # its id from generate_thread_id
    question = user_message(store, thread, ctx, "hello")
    await store.add_thread_item(thread.id, question, ctx)
    with Statements() as statements:
        page = await store.load_thread_items(thread.id, None, 10, "desc", ctx)
    assert statements.count == 0 and [i.id for i in page.data] == [question.id] and not page.has_more

    intruder = reading(new_ctx(), 10)
    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, intruder)
    assert intruder.seen_items is None
    elsewhere = RequestContext(
        user_id=owner.user_id, tenant_id=owner.tenant_id, assistant="another", items_with_thread=10
    )
    with pytest.raises(NotFoundError):
        await store.load_thread(thread.id, elsewhere)
