"""A thread's newest items as one request has seen them (`RequestContext.seen_items`).

A request that adds a message asks `load_thread` to read the thread's newest items in the
same statement (`RequestContext.items_with_thread`). The items the request then saves in that
thread are added (a new item is the newest; a saved one is replaced in place), and the first
"desc" page of the thread read through the same context is served from them, once, instead
of the database: the turn's history window costs no statement of its own. The history's page
is then seen again for the agent's own read of the thread's last items (`remember_page`,
through `PostgresStore.seen_newest`): one cache of what a request has seen, not two.

Concurrency, by design: a turn's history is the thread as it stood when its request loaded
it, plus what that request itself saved (its message, its page context). A message another
request adds to the same thread meanwhile is not in it, so two messages sent at once are each
answered as the newest message, after the history both were sent after; later turns see both
(from the database). A delete through the request drops the view (the database answers)."""

from __future__ import annotations

from collections.abc import Callable

from chatkit.store import NotFoundError
from chatkit.types import Page, ThreadItem, ThreadMetadata
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from chatkit_store.queries import _LOAD_THREAD_WITH_ITEMS, _owner
from docsdesk.core.context import RequestContext, SeenItems

_ITEMS: TypeAdapter[list[ThreadItem]] = TypeAdapter(list[ThreadItem])


async def load_thread(
    conn: AsyncConnection,
    thread_id: str,
    context: RequestContext,
    view: Callable[[ThreadItem, RequestContext], ThreadItem],
) -> ThreadMetadata:
    """The thread, and its newest `context.items_with_thread` items read in the same
    statement, remembered as seen (each through `view`, the store's attachment view)."""
    limit = context.items_with_thread
    params = {"thread": thread_id, "page_limit": limit + 1, **_owner(context)}
    row = (await conn.execute(_LOAD_THREAD_WITH_ITEMS, params)).one_or_none()
    if row is None:
        raise NotFoundError(f"Thread {thread_id} not found")
    remember(context, thread_id, [view(item, context) for item in _ITEMS.validate_json(row.items)], limit)
    return ThreadMetadata.model_validate_json(row.thread)


def remember(context: RequestContext, thread_id: str, items: list[ThreadItem], limit: int) -> None:
    """Keep `items` (the thread's newest, newest first, read with `limit` + 1) as seen."""
    context.seen_items = SeenItems(thread_id, items[:limit], len(items) > limit)


def remember_page(context: RequestContext, thread_id: str, page: Page[ThreadItem]) -> None:
    """Keep a first "desc" page of the thread's items as seen."""
    context.seen_items = SeenItems(thread_id, page.data, page.has_more)


def saved(context: RequestContext, thread_id: str, item: ThreadItem) -> None:
    """`item` was saved in `thread_id` through this request: it is seen as saved."""
    seen = context.seen_items
    if seen is None or seen.thread_id != thread_id:
        return
    at = next((i for i, old in enumerate(seen.items) if old.id == item.id), None)
    if at is None:
        seen.items.insert(0, item)
    else:
        seen.items[at] = item


def forget(context: RequestContext) -> None:
    context.seen_items = None


def take(
    context: RequestContext, thread_id: str, after: str | None, limit: int, order: str
) -> Page[ThreadItem] | None:
    """The first "desc" page of `thread_id` served from what this request has seen (and then
    forgotten), or None when it cannot be (another thread, order or page, or more items
    wanted than were read)."""
    seen = context.seen_items
    if seen is None or seen.thread_id != thread_id or after is not None or order != "desc":
        return None
    context.seen_items = None
    return first_page(seen.items, seen.has_more, limit)


def first_page(items: list[ThreadItem], has_more: bool, limit: int) -> Page[ThreadItem] | None:
    """The first `limit` of `items` (a first page, `has_more` if older items follow) as a
    page, or None if more are wanted than `items` has while older ones exist."""
    if limit > len(items) and has_more:
        return None
    shown = items[:limit]
    more = len(items) > limit or has_more
    return Page(data=shown, has_more=more, after=shown[-1].id if more else None)
