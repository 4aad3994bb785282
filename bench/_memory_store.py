"""A plain in-memory ChatKit `Store` for the benchmark's reference floor (bench/turns.py).

Dicts in one process, nothing persisted; like the SDK quickstart's store, objects are kept
and returned by reference (no copies, no serialization), so it costs next to nothing. Like
the real store, every lookup is scoped to the caller's (tenant_id, user_id): someone else's
thread or item is a NotFoundError. Items keep insertion order; pages use an item id (or
thread id) as the `after` cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from chatkit.store import NotFoundError, Store
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata

from docsdesk.core.context import RequestContext

T = TypeVar("T")
Owner = tuple[str, str]


@dataclass
class _Thread:
    meta: ThreadMetadata
    items: dict[str, ThreadItem] = field(default_factory=dict)  # insertion-ordered


def _owner(ctx: RequestContext) -> Owner:
    return (ctx.tenant_id, ctx.user_id)


def _page(ordered: Sequence[T], key, after: str | None, limit: int, order: str) -> Page[T]:
    """`limit` entries of `ordered` (oldest first) after the `after` cursor, in `order`."""
    if order not in ("asc", "desc"):
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    seq = list(ordered) if order == "asc" else list(reversed(ordered))
    start = 0
    if after is not None:
        keys = [key(entry) for entry in seq]
        if after not in keys:
            raise NotFoundError(f"cursor {after} not found")
        start = keys.index(after) + 1
    chunk = seq[start : start + limit]
    has_more = start + limit < len(seq)
    return Page(data=chunk, has_more=has_more, after=key(chunk[-1]) if chunk and has_more else None)


class MemoryStore(Store[RequestContext]):
    """Threads, items and attachments in dicts, per (tenant_id, user_id)."""

    def __init__(self) -> None:
        self._threads: dict[Owner, dict[str, _Thread]] = {}
        self._attachments: dict[Owner, dict[str, Attachment]] = {}

    def _thread(self, thread_id: str, ctx: RequestContext) -> _Thread:
        found = self._threads.get(_owner(ctx), {}).get(thread_id)
        if found is None:
            raise NotFoundError(f"thread {thread_id} not found")
        return found

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        return self._thread(thread_id, context).meta

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        owned = self._threads.setdefault(_owner(context), {})
        if thread.id in owned:
            owned[thread.id].meta = thread
        else:
            owned[thread.id] = _Thread(thread)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        metas = sorted(
            (t.meta for t in self._threads.get(_owner(context), {}).values()),
            key=lambda meta: meta.created_at,
        )
        return _page(metas, lambda meta: meta.id, after, limit, order)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        self._thread(thread_id, context)
        del self._threads[_owner(context)][thread_id]

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: RequestContext
    ) -> Page[ThreadItem]:
        thread = self._thread(thread_id, context)
        return _page(list(thread.items.values()), lambda item: item.id, after, limit, order)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        if item.thread_id != thread_id:
            raise ValueError(f"item {item.id} belongs to thread {item.thread_id}, not {thread_id}")
        self._thread(thread_id, context).items[item.id] = item

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        item = self._thread(thread_id, context).items.get(item_id)
        if item is None:
            raise NotFoundError(f"item {item_id} not found in thread {thread_id}")
        return item

    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        self._thread(thread_id, context).items.pop(item_id, None)

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        self._attachments.setdefault(_owner(context), {})[attachment.id] = attachment

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        found = self._attachments.get(_owner(context), {}).get(attachment_id)
        if found is None:
            raise NotFoundError(f"attachment {attachment_id} not found")
        return found

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        self._attachments.get(_owner(context), {}).pop(attachment_id, None)
