"""PostgresStore: the ChatKit `Store` on PostgreSQL (SQLAlchemy 2 async Core + asyncpg).

Every query is scoped to the caller's (tenant_id, user_id); a row owned by anyone else is
indistinguishable from a missing one (NotFoundError). Each public method is one short
transaction. Items are paged by `items.seq`, threads by `threads.activity_seq`.

The statements are built once at import with named bind parameters (the caller's owner is
always `:owner_tenant` / `:owner_user`), so a call only binds values: no per-call statement
construction or cache-key work on the hot read paths.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from chatkit.store import NotFoundError, Store, StoreItemType
from chatkit.types import Attachment, FeedbackKind, Page, ThreadItem, ThreadMetadata, UserMessageItem
from pydantic import TypeAdapter
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Row,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    func,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from chatkit_store.schema import (
    FEEDBACK_KINDS,
    THREAD_ACTIVITY_SEQ,
    attachments,
    feedback,
    items,
    threads,
)
from chatkit_store.turn_writes import outage_ends_turn
from docsdesk.core.context import RequestContext

#: Largest page `load_thread_items` / `load_threads` will serve.
MAX_PAGE_LIMIT = 1000
#: The item types feedback may rate (what the widget shows thumbs on).
RATABLE = frozenset({"assistant_message"})
ORDERS = ("asc", "desc")

_ITEM: TypeAdapter[ThreadItem] = TypeAdapter(ThreadItem)
_ATTACHMENT: TypeAdapter[Attachment] = TypeAdapter(Attachment)
_THREAD_FIELDS = set(ThreadMetadata.model_fields)  # a set: what model_dump's `include` takes

T = TypeVar("T")


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


# --- statements ----------------------------------------------------------------------


def _owned(table: FromClause) -> ColumnElement[bool]:
    """The row belongs to the caller, bound as :owner_tenant / :owner_user."""
    return and_(
        table.c.tenant_id == bindparam("owner_tenant"),
        table.c.user_id == bindparam("owner_user"),
    )


def _owner(ctx: RequestContext) -> dict[str, str]:
    return {"owner_tenant": ctx.tenant_id, "owner_user": ctx.user_id}


def _upsert(table: Any, key: str, updates: list[str], *, where: Callable[[Any], Any]) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET updates ... WHERE where(excluded) RETURNING
    key: no row back means the existing row was not the caller's to update."""
    stmt = pg_insert(table)
    set_: dict[str, Any] = {name: stmt.excluded[name] for name in updates}
    if "updated_at" in table.c:
        set_["updated_at"] = func.now()
    return stmt.on_conflict_do_update(
        index_elements=[table.c[key]], set_=set_, where=where(stmt.excluded)
    ).returning(table.c[key])


def _same_owner(table: Any, excluded: Any) -> ColumnElement[bool]:
    return and_(table.c.tenant_id == excluded.tenant_id, table.c.user_id == excluded.user_id)


def _ordered(column: ColumnElement[int], order: str) -> ColumnElement[int]:
    return column.asc() if order == "asc" else column.desc()


def _beyond(column: ColumnElement[int], cursor: ColumnElement[int], order: str) -> ColumnElement[bool]:
    """Rows strictly after the cursor in the page order."""
    return column > cursor if order == "asc" else column < cursor


def _threads_page(order: str, with_cursor: bool) -> Select[Any]:
    """The caller's threads by activity_seq; with a cursor, one statement returns the cursor
    row (if the caller owns it) joined to the page after it, so "no such cursor" (no rows)
    is told apart from "no more threads" (one row of NULLs)."""
    seq = threads.c.activity_seq
    page = select(threads.c.id, seq, cast(threads.c.data, Text).label("data")).where(_owned(threads))
    if not with_cursor:
        return page.order_by(_ordered(seq, order)).limit(bindparam("page_limit"))
    cursor = threads.alias("cursor")
    page_after = (
        page.where(_beyond(seq, cursor.c.activity_seq, order))
        .order_by(_ordered(seq, order))
        .limit(bindparam("page_limit"))
        .lateral("page")
    )
    return (
        select(page_after.c.id, page_after.c.data)
        .select_from(cursor.outerjoin(page_after, true()))
        .where(cursor.c.id == bindparam("after"), _owned(cursor))
        .order_by(_ordered(page_after.c.activity_seq, order))
    )


def _items_page(order: str, with_cursor: bool) -> Select[Any]:
    """The caller's thread left-joined to the cursor item in it (if any) and to the page of
    items after it: no rows = no such thread; NULL cursor_id = no such cursor; a single row
    of NULLs = no items."""
    query = select(items.c.id, items.c.seq, cast(items.c.data, Text).label("data")).where(
        items.c.thread_id == threads.c.id, _owned(items)
    )
    source: Any = threads
    cursor_columns = []
    if with_cursor:
        cursor = items.alias("cursor")
        query = query.where(_beyond(items.c.seq, cursor.c.seq, order))
        source = source.outerjoin(
            cursor,
            and_(
                cursor.c.id == bindparam("after"),
                cursor.c.thread_id == threads.c.id,
                _owned(cursor),
            ),
        )
        cursor_columns.append(cursor.c.id.label("cursor_id"))
    page = query.order_by(_ordered(items.c.seq, order)).limit(bindparam("page_limit")).lateral("page")
    return (
        select(page.c.id, page.c.data, *cursor_columns)
        .select_from(source.outerjoin(page, true()))
        .where(threads.c.id == bindparam("thread"), _owned(threads))
        .order_by(_ordered(page.c.seq, order))
    )


_THREADS_PAGE = {(o, c): _threads_page(o, c) for o in ORDERS for c in (False, True)}
_ITEMS_PAGE = {(o, c): _items_page(o, c) for o in ORDERS for c in (False, True)}

_THREAD_BY_ID = select(threads.c.id).where(threads.c.id == bindparam("thread"), _owned(threads))
_LOCK_THREAD = _THREAD_BY_ID.with_for_update(key_share=True)  # no delete until commit
_LOAD_THREAD = select(cast(threads.c.data, Text)).where(threads.c.id == bindparam("thread"), _owned(threads))
_SAVE_THREAD = _upsert(threads, "id", ["data", "activity_seq"], where=lambda new: _same_owner(threads, new))
_BUMP_THREAD = (
    update(threads)
    .where(threads.c.id == bindparam("thread"), _owned(threads))
    .values(activity_seq=THREAD_ACTIVITY_SEQ.next_value())
    .returning(threads.c.id)
)
_DELETE_THREAD = (
    delete(threads).where(threads.c.id == bindparam("thread"), _owned(threads)).returning(threads.c.id)
)
_LOCK_THREAD_FOR_DELETE = _THREAD_BY_ID.with_for_update()

_ITEM_WHERE = (items.c.id == bindparam("item"), items.c.thread_id == bindparam("thread"), _owned(items))
_LOAD_ITEM = select(cast(items.c.data, Text)).where(*_ITEM_WHERE)
_DELETE_ITEM = delete(items).where(*_ITEM_WHERE).returning(items.c.id)
# Never moves an item to another thread, never touches someone else's row.
_SAVE_ITEM = _upsert(
    items,
    "id",
    ["data"],
    where=lambda new: and_(items.c.thread_id == new.thread_id, _same_owner(items, new)),
)

_ATTACHMENT_WHERE = (attachments.c.id == bindparam("attachment"), _owned(attachments))
_LOAD_ATTACHMENT = select(cast(attachments.c.data, Text)).where(*_ATTACHMENT_WHERE)
_DELETE_ATTACHMENT = delete(attachments).where(*_ATTACHMENT_WHERE).returning(attachments.c.id)
_DELETE_THREAD_ATTACHMENTS = (
    delete(attachments)
    .where(attachments.c.thread_id == bindparam("thread"), _owned(attachments))
    .returning(attachments.c.id)
)
_SAVE_ATTACHMENT = _upsert(
    attachments, "id", ["thread_id", "data"], where=lambda new: _same_owner(attachments, new)
)

_LOCK_FEEDBACK_ITEMS = (
    select(items.c.id, items.c.data["type"].astext.label("type"))
    .where(
        # One array parameter, however many ids (an IN list binds one parameter per id,
        # and asyncpg takes at most 32,767).
        items.c.id == any_(bindparam("items", type_=ARRAY(Text))),
        items.c.thread_id == bindparam("thread"),
        _owned(items),
    )
    .with_for_update(key_share=True)
)
_SAVE_FEEDBACK = _upsert(
    feedback, "item_id", ["kind", "created_at"], where=lambda new: _same_owner(feedback, new)
)
_LOAD_FEEDBACK = (
    select(
        feedback.c.thread_id,
        feedback.c.item_id,
        feedback.c.kind,
        feedback.c.tenant_id,
        feedback.c.user_id,
        feedback.c.created_at,
    )
    .join(items, items.c.id == feedback.c.item_id)
    .where(feedback.c.thread_id == bindparam("thread"), _owned(feedback))
    .order_by(items.c.seq)
)


# --- helpers ---------------------------------------------------------------------------


def _check_page_args(limit: int, order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_PAGE_LIMIT}, not {limit!r}")


def _page(rows: Sequence[Row[Any]], limit: int, parse: Callable[[str], T]) -> Page[T]:
    """Rows (id, data as JSON text), fetched with limit + 1 to learn whether more follow.

    As in the SDK's contract: `after` (the cursor of the next page) is set only when there
    is a next page."""
    shown = rows[:limit]
    has_more = len(rows) > limit
    return Page(
        data=[parse(row.data) for row in shown],
        has_more=has_more,
        after=shown[-1].id if has_more else None,
    )


@contextmanager
def _client_errors() -> Iterator[None]:
    """Database rejections of client input become NotFoundError / ValueError."""
    try:
        yield
    except DBAPIError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if sqlstate == "23503":  # foreign_key_violation: the parent went away meanwhile
            raise NotFoundError("the referenced thread or item no longer exists") from exc
        if sqlstate[:2] in ("22", "54"):  # data exception, program limit exceeded
            reason = str(exc.orig).strip().splitlines()[-1] if str(exc.orig).strip() else sqlstate
            raise ValueError(f"invalid value for the store: {reason}") from exc
        raise


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

    # --- ids ---------------------------------------------------------------------

    def generate_thread_id(self, context: RequestContext) -> str:
        return new_id("thread")

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
        """For single-statement reads: the statement is its own transaction (autocommit),
        which saves the BEGIN and COMMIT round trips."""
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
        """Run a write that RETURNs a row when it applied; NotFoundError(missing) if not."""
        async with self._begin() as conn:
            if await conn.scalar(stmt, params) is None:
                raise NotFoundError(missing)

    # --- threads -----------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
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
        row = {
            "id": item.id,
            "thread_id": thread_id,
            "tenant_id": ctx.tenant_id,
            "user_id": ctx.user_id,
            "data": item.model_dump(mode="json"),
        }
        async with self._begin() as conn:
            # Locks the thread row: it cannot be deleted under us, writes to it are serialised.
            if await conn.scalar(_BUMP_THREAD, {"thread": thread_id, **_owner(ctx)}) is None:
                raise NotFoundError(f"Thread {thread_id} not found")
            if await conn.scalar(_SAVE_ITEM, row) is None:
                raise NotFoundError(f"Item {item.id} not found in thread {thread_id}")

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
