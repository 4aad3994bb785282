"""The store's SQL statements, built once at import with named bind parameters (the caller's
owner is always `:owner_tenant` / `:owner_user`, and for threads `:owner_assistant`), and the
helpers that turn rows into pages and database rejections into client errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from chatkit.store import NotFoundError
from chatkit.types import Page
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
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from chatkit_store.schema import (
    THREAD_ACTIVITY_SEQ,
    attachments,
    feedback,
    items,
    threads,
)
from docsdesk.core.context import RequestContext

#: Largest page `load_thread_items` / `load_threads` will serve.
MAX_PAGE_LIMIT = 1000
ORDERS = ("asc", "desc")

T = TypeVar("T")


# --- statements ----------------------------------------------------------------------


def _owned(table: FromClause) -> ColumnElement[bool]:
    """The row belongs to the caller, bound as :owner_tenant / :owner_user."""
    return and_(
        table.c.tenant_id == bindparam("owner_tenant"),
        table.c.user_id == bindparam("owner_user"),
    )


def _owned_thread(table: FromClause) -> ColumnElement[bool]:
    """The thread belongs to the caller and to the assistant the request is for
    (:owner_assistant): through another assistant, a thread is as missing as another user's."""
    return and_(_owned(table), table.c.assistant == bindparam("owner_assistant"))


def _in_assistant_thread(column: ColumnElement[str]) -> ColumnElement[bool]:
    """`column` (a thread id, bound as :thread) names a thread of the request's assistant."""
    return column.in_(
        select(threads.c.id).where(
            threads.c.id == bindparam("thread"), threads.c.assistant == bindparam("owner_assistant")
        )
    )


def _owner(ctx: RequestContext) -> dict[str, str]:
    return {"owner_tenant": ctx.tenant_id, "owner_user": ctx.user_id, "owner_assistant": ctx.assistant}


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
    page = select(threads.c.id, seq, cast(threads.c.data, Text).label("data")).where(_owned_thread(threads))
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
        .where(cursor.c.id == bindparam("after"), _owned_thread(cursor))
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
        .where(threads.c.id == bindparam("thread"), _owned_thread(threads))
        .order_by(_ordered(page.c.seq, order))
    )


_THREADS_PAGE = {(o, c): _threads_page(o, c) for o in ORDERS for c in (False, True)}
_ITEMS_PAGE = {(o, c): _items_page(o, c) for o in ORDERS for c in (False, True)}

_THREAD_BY_ID = select(threads.c.id).where(threads.c.id == bindparam("thread"), _owned_thread(threads))
_LOCK_THREAD = _THREAD_BY_ID.with_for_update(key_share=True)  # no delete until commit
_LOAD_THREAD = select(cast(threads.c.data, Text)).where(
    threads.c.id == bindparam("thread"), _owned_thread(threads)
)
# The thread and, in the same statement, its newest items (newest first, at most
# :page_limit) as one JSON array: no rows = no such thread.
_LOAD_THREAD_WITH_ITEMS = text(
    """
    SELECT CAST(threads.data AS TEXT) AS thread, (
        SELECT CAST(coalesce(json_agg(page.data ORDER BY page.seq DESC), '[]') AS TEXT)
        FROM (
            SELECT items.seq, items.data FROM items
            WHERE items.thread_id = threads.id AND items.tenant_id = :owner_tenant
              AND items.user_id = :owner_user
            ORDER BY items.seq DESC LIMIT :page_limit
        ) AS page
    ) AS items
    FROM threads
    WHERE threads.id = :thread AND threads.tenant_id = :owner_tenant
      AND threads.user_id = :owner_user AND threads.assistant = :owner_assistant
    """
)
_SAVE_THREAD = _upsert(
    threads,
    "id",
    ["data", "activity_seq"],
    where=lambda new: and_(_same_owner(threads, new), threads.c.assistant == new.assistant),
)
_DELETE_THREAD = (
    delete(threads).where(threads.c.id == bindparam("thread"), _owned_thread(threads)).returning(threads.c.id)
)
_LOCK_THREAD_FOR_DELETE = _THREAD_BY_ID.with_for_update()

_ITEM_WHERE = (
    items.c.id == bindparam("item"),
    items.c.thread_id == bindparam("thread"),
    _owned(items),
    _in_assistant_thread(items.c.thread_id),
)
_LOAD_ITEM = select(cast(items.c.data, Text)).where(*_ITEM_WHERE)
_DELETE_ITEM = delete(items).where(*_ITEM_WHERE).returning(items.c.id)
# Never moves an item to another thread, never touches someone else's row.
# One statement, so one round trip and its own transaction (run in autocommit): lock the
# caller's thread of the request's assistant, upsert the item in it (never moving an item to
# another thread, never touching someone else's row), and bump the thread's activity only
# when the item was saved. `thread_found` / `saved` (0 or 1) tell the two "not found" apart.
_SAVE_ITEM_IN_THREAD = text(
    f"""
    WITH thread AS (
        SELECT id FROM threads
        WHERE id = :thread AND tenant_id = :owner_tenant AND user_id = :owner_user
          AND assistant = :owner_assistant
        FOR UPDATE
    ), saved AS (
        INSERT INTO items (id, thread_id, tenant_id, user_id, data)
        SELECT :item, thread.id, :owner_tenant, :owner_user, CAST(:data AS jsonb) FROM thread
        ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = now()
        WHERE items.thread_id = EXCLUDED.thread_id AND items.tenant_id = EXCLUDED.tenant_id
          AND items.user_id = EXCLUDED.user_id
        RETURNING items.id
    ), bumped AS (
        UPDATE threads SET activity_seq = nextval('{THREAD_ACTIVITY_SEQ.name}')
        WHERE id = (SELECT id FROM thread) AND EXISTS (SELECT 1 FROM saved)
        RETURNING threads.id
    )
    SELECT (SELECT count(*) FROM thread) AS thread_found, (SELECT count(*) FROM bumped) AS saved
    """
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
