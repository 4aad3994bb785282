"""Export the recorded conversations (or the hand-off tickets) of a window as JSON Lines, CSV or
Markdown, streamed.

Rows are read in keyset-paginated batches ordered by (created_at, id); each batch checks out
a connection, reads, and gives it back before the batch is formatted and sent, so neither a
large range nor a slow client holds a connection or builds the export in memory.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from docsdesk.core.context import is_page_url
from docsdesk.insights.handoffs import TICKET_FIELDS, delivery_summary, ticket_rows
from docsdesk.insights.report import SCOPED, Scope

FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv", "md": "text/markdown"}
BATCH = 500
FIELDS = [
    "time",
    "thread_id",
    "question",
    "follows",
    "answer",
    "cited_urls",
    "outcome",
    "not_covered_reason",
    "feedback",
    "page_url",
    "user",
    "tenant",
    "collection",
    "assistant",
    "channel",
    "model",
    "first_text_ms",
]

_PAGE = f"""
    SELECT t.id, t.created_at, t.thread_id, t.question, t.follows, t.answer, t.cited_urls, t.outcome,
           t.not_covered_reason,
           f.kind AS feedback, t.page_url, t.user_hash, t.tenant_id, t.collection, t.model,
           t.first_text_ms, t.assistant, t.channel
    FROM turns t LEFT JOIN feedback f ON f.item_id = t.answer_item_id
    WHERE {SCOPED}
"""
_FIRST = text(_PAGE + " ORDER BY t.created_at, t.id LIMIT :batch")
_NEXT = text(
    _PAGE + " AND (t.created_at, t.id) > (:after_time, :after_id) ORDER BY t.created_at, t.id LIMIT :batch"
)
_COUNT = text(f"SELECT count(*) FROM turns t WHERE {SCOPED}")


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {value[:20]!r}")
    return value


async def count_turns(engine: AsyncEngine, scope: Scope) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(_COUNT, scope.params()))


async def turn_rows(engine: AsyncEngine, scope: Scope, batch: int = BATCH) -> AsyncIterator[list[dict]]:
    """The window's turns, oldest first, in batches of plain dicts."""
    params = {**scope.params(), "batch": batch}
    statement = _FIRST
    while True:
        async with engine.connect() as conn:
            rows = (await conn.execute(statement, params)).all()
        if not rows:
            return
        yield [
            {
                "time": row.created_at.isoformat(),
                "thread_id": row.thread_id,
                "question": row.question,
                "follows": row.follows,  # the earlier question a follow-up leans on
                "answer": row.answer,
                "cited_urls": list(row.cited_urls),
                "outcome": row.outcome,
                "not_covered_reason": row.not_covered_reason,
                "feedback": row.feedback,
                "page_url": row.page_url,
                "user": row.user_hash,
                "tenant": row.tenant_id,
                "collection": row.collection,
                "assistant": row.assistant,
                "channel": row.channel,
                "model": row.model,
                "first_text_ms": row.first_text_ms,
            }
            for row in rows
        ]
        if len(rows) < batch:
            return
        statement = _NEXT
        params["after_time"], params["after_id"] = rows[-1].created_at, rows[-1].id


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def _cell(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula (OWASP: prefix `'`)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(rows: list[dict], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    if header:
        writer.writeheader()
    for row in rows:
        flat = {**row, "cited_urls": " ".join(row["cited_urls"]), "feedback": row["feedback"] or ""}
        writer.writerow({key: _cell(value) for key, value in flat.items()})
    return out.getvalue()


def _md_inline(value: str) -> str:
    """Reader text as literal Markdown text: Markdown punctuation backslash-escaped, then
    HTML escaped, so nothing in it renders as a link, an image, emphasis, code or HTML."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", value), quote=False)


def _md_text(value: str) -> str:
    # Quoted and escaped so nothing in a reader's text can start a heading, a link or HTML.
    return "\n".join("> " + _md_inline(line) for line in (value or "").splitlines()) or "> "


def _md_url(url: str) -> str:
    """A link when the URL is a plain http(s) URL; escaped text otherwise (rows recorded
    before page URLs were checked)."""
    return f"<{url}>" if is_page_url(url) else _md_inline(" ".join(url.split()))


def _md(rows: list[dict]) -> str:
    parts = []
    for row in rows:
        lines = [
            f"## {row['time']} · {row['outcome']}"
            + (f" ({_md_inline(row['not_covered_reason'])})" if row["not_covered_reason"] else "")
            + (f" · rated {row['feedback']}" if row["feedback"] else ""),
            "",
            f"- thread: `{row['thread_id']}`  user: `{row['user']}`"
            + (f"  tenant: {_md_inline(row['tenant'])}" if row["tenant"] else ""),
        ]
        if row["page_url"]:
            lines.append(f"- asked on: {_md_url(row['page_url'])}")
        if row["follows"]:
            lines.append(f"- follows: {_md_inline(' '.join(row['follows'].split()))}")
        lines += [
            "",
            "**Question**",
            "",
            _md_text(row["question"]),
            "",
            "**Answer**",
            "",
            _md_text(row["answer"]),
        ]
        if row["cited_urls"]:
            lines += ["", "**Sources**", "", *[f"- {_md_url(url)}" for url in row["cited_urls"]]]
        parts.append("\n".join(lines) + "\n\n")
    return "".join(parts)


async def export_chunks(engine: AsyncEngine, scope: Scope, fmt: str) -> AsyncIterator[tuple[str, int]]:
    """The export as (text, number of turns in it) chunks, one per batch."""
    check_format(fmt)
    if fmt == "md":
        yield f"# Conversations: {scope.label}, last {scope.days} days\n\n", 0
    first = True
    async for rows in turn_rows(engine, scope):
        if fmt == "jsonl":
            yield _jsonl(rows), len(rows)
        elif fmt == "csv":
            yield _csv(rows, header=first), len(rows)
        else:
            yield _md(rows), len(rows)
        first = False
    if fmt == "csv" and first:
        yield _csv([], header=True), 0


async def export(engine: AsyncEngine, scope: Scope, fmt: str, of: str = "turns") -> AsyncIterator[str]:
    """The export as text chunks (what the admin API streams): the turns, or the tickets."""
    chunks = export_chunks(engine, scope, fmt) if of == "turns" else ticket_chunks(engine, scope, fmt)
    async for chunk, _ in chunks:
        yield chunk


async def ticket_chunks(engine: AsyncEngine, scope: Scope, fmt: str) -> AsyncIterator[tuple[str, int]]:
    """The window's hand-off tickets (docsdesk.insights.handoffs) in one chunk."""
    check_format(fmt)
    rows = await ticket_rows(engine, scope.params())
    if fmt == "jsonl":
        yield _jsonl(rows), len(rows)
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=TICKET_FIELDS)
        writer.writeheader()
        for row in rows:
            flat = {**row, "deliveries": delivery_summary(row["deliveries"])}
            writer.writerow({key: _cell(value) for key, value in flat.items()})
        yield out.getvalue(), len(rows)
    else:
        yield (
            f"# Tickets: {scope.collection}, last {scope.days} days\n\n" + "".join(map(_md_ticket, rows)),
            len(rows),
        )


def _md_ticket(row: dict) -> str:
    lines = [
        f"## Ticket {row['id']} · {row['state']} · {row['submitted_at']}",
        "",
        f"- thread: `{row['thread_id']}`  assistant: {_md_inline(row['assistant'])}  reason: {row['reason']}",
        f"- from: {_md_inline(row['email'] or '')}",
        f"- deliveries: {_md_inline(delivery_summary(row['deliveries']))}",
    ]
    if row["page_url"]:
        lines.append(f"- asked on: {_md_url(row['page_url'])}")
    return "\n".join([*lines, "", _md_text(row["note"] or ""), ""]) + "\n"
