"""PostgresStore: the ChatKit `Store` on PostgreSQL (SQLAlchemy 2 async Core + asyncpg).

Every query is scoped to the caller's (tenant_id, user_id); a row owned by anyone else is
indistinguishable from a missing one (NotFoundError). Each public method is one short
transaction. Items are paged by `items.seq`, threads by `threads.activity_seq`.

Threads also belong to the assistant they were started with (`RequestContext.assistant`):
through another assistant, a thread and its items are as missing as another user's.

The statements (chatkit_store.queries) are built once at import with named bind parameters,
so a call only binds values: no per-call statement construction or cache-key work on the hot
read paths.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, FeedbackKind, Page, ThreadItem, ThreadMetadata, UserMessageItem
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatkit_store import seen
from chatkit_store.queries import (
    _DELETE_ATTACHMENT,
    _DELETE_ITEM,
    _DELETE_THREAD,
    _DELETE_THREAD_ATTACHMENTS,
    _ITEMS_PAGE,
    _LOAD_ATTACHMENT,
    _LOAD_FEEDBACK,
    _LOAD_ITEM,
    _LOAD_THREAD,
    _LOCK_FEEDBACK_ITEMS,
    _LOCK_THREAD,
    _LOCK_THREAD_FOR_DELETE,
    _SAVE_ATTACHMENT,
    _SAVE_FEEDBACK,
    _SAVE_ITEM_IN_THREAD,
    _SAVE_THREAD,
    _THREAD_BY_ID,
    _THREADS_PAGE,
    MAX_PAGE_LIMIT,
    ORDERS,
    _check_page_args,
    _client_errors,
    _owner,
    _page,
)
from chatkit_store.schema import FEEDBACK_KINDS
from chatkit_store.turn_writes import outage_ends_turn
from docsdesk.core.context import RequestContext

__all__ = ["MAX_PAGE_LIMIT", "ORDERS", "RATABLE", "PostgresStore", "new_id"]

#: The item types feedback may rate (what the widget shows thumbs on).
RATABLE = frozenset({"assistant_message"})

_ITEM: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_ATTACHMENT: TypeAdapter[Attachment] = TypeAdapter(Attachment)
_THREAD_FIELDS = set(ThreadMetadata.model_fields)  # a set: what model_dump's `include` takes


#: Id prefixes by kind: the ones the SDK's `default_generate_id` uses (the SDK's own table
#: is private; tests/chatkit_store/test_store.py pins this one to it, kind by kind).
ID_PREFIXES: dict[StoreItemType, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def new_id(kind: StoreItemType) -> str:
    """A fresh id with the SDK's prefix for `kind` and 128 random bits."""
    return f"{ID_PREFIXES[kind]}_{secrets.token_hex(16)}"


class PostgresStore(Store[RequestContext]):
    """Threads, items, attachments and feedback in PostgreSQL, per tenant and user."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        #: Told, after the commit, which attachments a delete removed (their bytes outside
        #: the database go too); set by the attachment file store.
        self.on_attachments_deleted: Callable[[list[str]], Awaitable[None]] | None = None
        #: Applied to every attachment returned (fresh expiring preview URLs).
        self.attachment_view: Callable[[Attachment, RequestContext], Attachment] | None = None

    def seen_newest(self, thread_id: str, newest: Page[ThreadItem], context: RequestContext) -> None:
        """The next read of `thread_id`'s newest items through `context` (a first "desc" page
        no longer than `newest`, a first "desc" page the caller has just read) is answered
        from `newest` and what the request saves meanwhile, once (chatkit_store.seen). For one
        turn's agent context: the SDK's `stream_agent_response` reads the thread's last two
        items right after the history was read. The items are `newest`'s own, not copies."""
        seen.remember_page(context, thread_id, newest)

    # --- ids ---------------------------------------------------------------------

    def generate_thread_id(self, context: RequestContext) -> str:
        """A fresh id: a new thread, seen with no items (chatkit_store.seen)."""
        thread_id = new_id("thread")
        if context.items_with_thread:
            seen.remember(context, thread_id, [], context.items_with_thread)
        return thread_id

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return new_id(item_type)

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        """Same signature as `AttachmentStore.generate_attachment_id`, for it to delegate to."""
        return new_id("attachment")

    # --- plumbing ----------------------------------------------------------------

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        """One transaction, for writes and multi-statement reads."""
        with _client_errors():
            async with self._engine.begin() as conn:
                yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """For single statements (reads, and the writes that are one statement): the
        statement is its own transaction (autocommit), which saves the BEGIN and COMMIT round
        trips."""
        with _client_errors():
            async with self._autocommit.connect() as conn:
                yield conn

    async def _fetch_one(self, stmt: Any, params: dict[str, Any], missing: str) -> Any:
        """The single value the read returns, or NotFoundError(missing)."""
        async with self._read() as conn:
            value = await conn.scalar(stmt, params)
        if value is None:
            raise NotFoundError(missing)
        return value

    async def _write_one(self, stmt: Any, params: dict[str, Any], missing: str) -> None:
        """Run a write that RETURNs a row when it applied; NotFoundError(missing) if not. One
        statement: its own transaction (autocommit)."""
        async with self._read() as conn:
            if await conn.scalar(stmt, params) is None:
                raise NotFoundError(missing)

    # --- threads -----------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        if context.items_with_thread:  # and its newest items (chatkit_store.seen)
            async with self._read() as conn:
                return await seen.load_thread(conn, thread_id, context, self._view_item)
        data = await self._fetch_one(
            _LOAD_THREAD, {"thread": thread_id, **_owner(context)}, f"Thread {thread_id} not found"
        )
        return ThreadMetadata.model_validate_json(data)

    @outage_ends_turn
    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        """Upsert the thread's metadata (a `Thread`'s items are not part of it) and mark it
        as the caller's most recently active thread."""
        row = {
            "id": thread.id,
            "tenant_id": context.tenant_id,
            "user_id": context.user_id,
            "assistant": context.assistant,
            "data": thread.model_dump(mode="json", include=_THREAD_FIELDS),
        }
        await self._write_one(_SAVE_THREAD, row, f"Thread {thread.id} not found")

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        """The caller's threads by activity: "desc" = most recently active first."""
        _check_page_args(limit, order)
        params = {"after": after, "page_limit": limit + 1, **_owner(context)}
        async with self._read() as conn:
            rows = (await conn.execute(_THREADS_PAGE[order, after is not None], params)).all()
        if after is not None:
            if not rows:
                raise NotFoundError(f"Thread {after} not found")
            rows = [row for row in rows if row.id is not None]
        return _page(rows, limit, ThreadMetadata.model_validate_json)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        """Delete the thread; its items, attachments (and their bytes) and feedback go with it."""
        where = {"thread": thread_id, **_owner(context)}
        async with self._begin() as conn:
            if await conn.scalar(_LOCK_THREAD_FOR_DELETE, where) is None:
                raise NotFoundError(f"Thread {thread_id} not found")
            gone = list(await conn.scalars(_DELETE_THREAD_ATTACHMENTS, where))
            await conn.execute(_DELETE_THREAD, where)  # items and feedback: ON DELETE CASCADE
        await self._deleted_attachments(gone)

    async def _deleted_attachments(self, attachment_ids: list[str]) -> None:
        if attachment_ids and self.on_attachments_deleted is not None:
            await self.on_attachments_deleted(attachment_ids)

    def _view(self, attachment: Attachment, context: RequestContext) -> Attachment:
        return attachment if self.attachment_view is None else self.attachment_view(attachment, context)

    def _view_item(self, item: ThreadItem, context: RequestContext) -> ThreadItem:
        if self.attachment_view is not None and isinstance(item, UserMessageItem) and item.attachments:
            item.attachments = [self.attachment_view(a, context) for a in item.attachments]
        return item

    # --- items -------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        """A page of the thread's items in insertion order ("asc") or newest first ("desc")."""
        _check_page_args(limit, order)
        if context.seen_items is not None and (page := seen.take(context, thread_id, after, limit, order)):
            return page
        params = {"thread": thread_id, "after": after, "page_limit": limit + 1, **_owner(context)}
        async with self._read() as conn:
            rows = (await conn.execute(_ITEMS_PAGE[order, after is not None], params)).all()
        if not rows:
            raise NotFoundError(f"Thread {thread_id} not found")
        if after is not None and rows[0].cursor_id is None:
            raise NotFoundError(f"Item {after} not found in thread {thread_id}")
        page = _page([row for row in rows if row.id is not None], limit, _ITEM.validate_json)
        if self.attachment_view is not None:
            page.data = [self._view_item(item, context) for item in page.data]
        return page

    @outage_ends_turn
    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        """Idempotent: re-adding an existing item updates it in place (same position)."""
        await self._upsert_item(thread_id, item, context)

    @outage_ends_turn
    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        await self._upsert_item(thread_id, item, context)

    async def _upsert_item(self, thread_id: str, item: ThreadItem, ctx: RequestContext) -> None:
        """Insert or update `item` in the caller's thread and bump the thread's activity."""
        if item.thread_id != thread_id:
            raise ValueError(f"item {item.id} belongs to thread {item.thread_id}, not {thread_id}")
        params = {"thread": thread_id, "item": item.id, "data": item.model_dump_json(), **_owner(ctx)}
        async with self._read() as conn:  # one statement: its own transaction (autocommit)
            found = (await conn.execute(_SAVE_ITEM_IN_THREAD, params)).one()
        if not found.thread_found:
            raise NotFoundError(f"Thread {thread_id} not found")
        if not found.saved:
            raise NotFoundError(f"Item {item.id} not found in thread {thread_id}")
        seen.saved(ctx, thread_id, item)

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        data = await self._fetch_one(
            _LOAD_ITEM,
            {"item": item_id, "thread": thread_id, **_owner(context)},
            f"Item {item_id} not found in thread {thread_id}",
        )
        return self._view_item(_ITEM.validate_json(data), context)

    @outage_ends_turn
    async def delete_thread_item(self, thread_id: str, item_id: str, context: RequestContext) -> None:
        """Delete the item and its feedback (ON DELETE CASCADE). An item that is not in the
        caller's thread (never stored, or already deleted) is a no-op, as in the SDK's
        reference stores: the SDK's guardrail clean-up sends a removal for every item a turn
        produced, stored or not. A thread that is not the caller's is NotFoundError."""
        seen.forget(context)
        where = {"thread": thread_id, **_owner(context)}
        async with self._begin() as conn:
            if await conn.scalar(_DELETE_ITEM, {"item": item_id, **where}) is not None:
                return
            if await conn.scalar(_THREAD_BY_ID, where) is None:
                raise NotFoundError(f"Thread {thread_id} not found")

    # --- attachments -------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        """Upsert; an attachment with a `thread_id` must point at one of the caller's threads."""
        row = {
            "id": attachment.id,
            "thread_id": attachment.thread_id,
            "tenant_id": context.tenant_id,
            "user_id": context.user_id,
            "data": attachment.model_dump(mode="json"),
        }
        async with self._begin() as conn:
            if attachment.thread_id is not None:
                locked = {"thread": attachment.thread_id, **_owner(context)}
                if await conn.scalar(_LOCK_THREAD, locked) is None:
                    raise NotFoundError(f"Thread {attachment.thread_id} not found")
            if await conn.scalar(_SAVE_ATTACHMENT, row) is None:
                raise NotFoundError(f"Attachment {attachment.id} not found")

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        data = await self._fetch_one(
            _LOAD_ATTACHMENT,
            {"attachment": attachment_id, **_owner(context)},
            f"Attachment {attachment_id} not found",
        )
        return self._view(_ATTACHMENT.validate_json(data), context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        """Delete the caller's attachment metadata and bytes; an id the caller does not own is
        a no-op (the SDK deletes the metadata after the attachment store deleted the file,
        whether or not metadata was saved). Callers that must answer 404 load it first."""
        async with self._begin() as conn:
            deleted = await conn.scalar(_DELETE_ATTACHMENT, {"attachment": attachment_id, **_owner(context)})
        if deleted is not None:
            await self._deleted_attachments([attachment_id])

    # --- feedback ----------------------------------------------------------------

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        kind: FeedbackKind,
        context: RequestContext,
    ) -> None:
        """Record `kind` for each item (replacing earlier feedback on it). All items must be
        in the caller's thread (otherwise NotFoundError) and be assistant messages (otherwise
        ValueError); if not, nothing is written."""
        if kind not in FEEDBACK_KINDS:
            raise ValueError(f"feedback kind must be one of {FEEDBACK_KINDS}, not {kind!r}")
        wanted = list(dict.fromkeys(item_ids))
        where = {"thread": thread_id, **_owner(context)}
        async with self._begin() as conn:
            if await conn.scalar(_LOCK_THREAD, where) is None:
                raise NotFoundError(f"Thread {thread_id} not found")
            if not wanted:
                return
            found: dict[str, str] = dict(
                (await conn.execute(_LOCK_FEEDBACK_ITEMS, {"items": wanted, **where})).all()
            )
            missing = [item_id for item_id in wanted if item_id not in found]
            if missing:
                raise NotFoundError(f"Items not found in thread {thread_id}: {', '.join(missing)}")
            unratable = [
                f"{item_id} ({found[item_id]})" for item_id in wanted if found[item_id] not in RATABLE
            ]
            if unratable:
                raise ValueError(f"only assistant messages can be rated, not {', '.join(unratable)}")
            rows = [
                {
                    "item_id": item_id,
                    "thread_id": thread_id,
                    "tenant_id": context.tenant_id,
                    "user_id": context.user_id,
                    "kind": kind,
                }
                for item_id in wanted
            ]
            await conn.execute(_SAVE_FEEDBACK, rows)

    async def load_feedback(self, thread_id: str, context: RequestContext) -> list[dict[str, Any]]:
        """The feedback recorded in the caller's thread, in item order (for tests and ops)."""
        where = {"thread": thread_id, **_owner(context)}
        async with self._begin() as conn:
            if await conn.scalar(_THREAD_BY_ID, where) is None:
                raise NotFoundError(f"Thread {thread_id} not found")
            rows = (await conn.execute(_LOAD_FEEDBACK, where)).mappings().all()
        return [dict(row) for row in rows]
