"""`docsdesk report` and `docsdesk export`: the insights on the command line.

By default they read the database directly (DATABASE_URL, or the embedded server in the data
dir). With `--url` they ask a running deployment's admin API instead (`--token`, or
DOCSDESK_ADMIN_TOKEN). Heavy modules are imported when a command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from typing import Any, TextIO

FORMATS = ("jsonl", "csv", "md")
# What reader text must not carry to an admin's terminal (issue 23, item 10): C0 controls but
# tab and newline (and CR only before LF, CSV's line end), DEL, C1 controls (U+009B is a CSI),
# and bidirectional overrides. ESC sequences clear the screen, set titles, forge OSC 8 links.
_TERMINAL_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]|\r(?!\n)"
)


def terminal_safe(text: str) -> str:
    """`text` without control characters a terminal would act on."""
    return _TERMINAL_UNSAFE.sub("", text)


class _TerminalSafeWriter:
    """stdout for exports: what reaches it is terminal_safe (a file given with -o is not
    filtered: it is data, written as recorded)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> int:
        return self.out.write(terminal_safe(text))

    def flush(self) -> None:
        self.out.flush()


def register(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    report = subparsers.add_parser(
        "report",
        help="what readers asked, what went unanswered, what was rated down",
        formatter_class=formatter,
        description="The insights over the last N days: volume, outcomes, coverage gaps (questions "
        "the docs did not answer), top questions, answers rated down, cited and never-cited pages, latency.",
    )
    _scope_arguments(report)
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(func=run_report)

    export = subparsers.add_parser(
        "export",
        help="export the recorded conversations",
        formatter_class=formatter,
        description="Every recorded turn of the last N days (question, answer, cited URLs, outcome, "
        "feedback, page, time, hashed user), streamed to a file or stdout.",
    )
    export.add_argument("--format", choices=FORMATS, required=True, help="output format")
    _scope_arguments(export)
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(func=run_export)


def _scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", default="30", help="how many days back (1-3650)")
    parser.add_argument(
        "--assistant",
        metavar="NAME",
        help="one assistant's conversations (docsdesk.toml; default: the main one, POST /chatkit's)",
    )
    parser.add_argument("--collection", help="docs collection (default: the assistant's)")
    parser.add_argument("--tenant", help="one tenant only (JWT mode with a tenant claim)")
    parser.add_argument("--url", help="a running docsdesk (its admin API) instead of the database")
    parser.add_argument("--token", help="admin token for --url (default: DOCSDESK_ADMIN_TOKEN)")


def _fail(message: str) -> None:
    from docsdesk.cli.common import CommandError

    raise CommandError(message)


def _days(args: argparse.Namespace) -> int:
    from docsdesk.insights.report import check_days

    try:
        return check_days(args.days)
    except ValueError as exc:
        _fail(f"--days: {exc}")
    raise AssertionError  # unreachable


def _remote(args: argparse.Namespace) -> tuple[str, dict[str, str], dict[str, str]]:
    """(base URL, headers, query) for the admin API."""
    token = args.token or os.environ.get("DOCSDESK_ADMIN_TOKEN")
    if not token:
        _fail("--url needs the admin token: --token or DOCSDESK_ADMIN_TOKEN")
    query = {"days": str(_days(args))}
    if args.collection:
        query["collection"] = args.collection
    if args.assistant:
        query["assistant"] = args.assistant
    if args.tenant:
        query["tenant"] = args.tenant
    return args.url.rstrip("/"), {"Authorization": f"Bearer {token}"}, query


def _remote_error(response: Any) -> None:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    if response.status_code == 404:
        message += " (is DOCSDESK_ADMIN_TOKEN set on that server?)"
    _fail(f"{response.request.url}: {response.status_code}: {message}")


async def _with_scope(args: argparse.Namespace, work) -> Any:
    """Open the database, resolve the scope, run `work(engine, scope)`."""
    from docsdesk.cli.common import settings
    from docsdesk.cli.resolve import resolve
    from docsdesk.core.database import open_database
    from docsdesk.insights.report import Scope

    config = settings()
    days = _days(args)
    db = await open_database(config)
    try:
        resolved = await resolve(db.engine, config, args)
        assistant = resolved.assistant.name if resolved.assistant is not None else None
        collections = resolved.collections
        scope = Scope(
            collection=collections[0] if len(collections) == 1 else None,
            days=days,
            tenant=args.tenant,
            assistant=assistant,
            pages=collections,
        )
        return await work(db.engine, scope)
    finally:
        await db.close()


# --- report -------------------------------------------------------------------------------


def run_report(args: argparse.Namespace) -> None:
    if args.url:
        import httpx

        base, headers, query = _remote(args)
        try:
            response = httpx.get(f"{base}/admin/api/report", headers=headers, params=query, timeout=60)
        except httpx.HTTPError as exc:
            _fail(f"cannot reach {base}: {exc}")
        if response.status_code != 200:
            _remote_error(response)
        report = response.json()
    else:
        from docsdesk.insights.report import build_report

        report = asyncio.run(_with_scope(args, build_report))
    if args.json:
        sys.stdout.write(terminal_safe(json.dumps(report, indent=2, ensure_ascii=False)) + "\n")
        return
    print_report(report)


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    scope, totals = report["scope"], report["totals"]
    tenant = f", tenant {scope['tenant']}" if scope["tenant"] else ""
    who = f"assistant {scope['assistant']}, " if scope.get("assistant") else ""
    what = f"collection {scope['collection']}" if scope["collection"] else "all its collections"
    console.print(f"[bold]docsdesk insights[/]: {who}{what}{tenant}, last {scope['days']} days")
    latency = report["latency_ms"]["first_text"]

    def share(n: int) -> str:
        return f"{n} ({round(100 * n / totals['turns'])}%)" if totals["turns"] else str(n)

    overview = Table(title="Overview", show_header=False)
    for label, value in [
        ("questions", totals["turns"]),
        ("conversations", totals["conversations"]),
        ("readers", totals["users"]),
        ("answered", share(totals["answered"])),
        ("not covered", share(totals["not_covered"])),
        ("errors", share(totals["error"])),
        ("cancelled", share(totals["cancelled"])),
        ("rated up / down", f"{report['feedback']['positive']} / {report['feedback']['negative']}"),
        (
            "first text p50 / p95",
            f"{latency['p50']} / {latency['p95']} ms" if latency["p50"] is not None else "–",
        ),
    ]:
        overview.add_row(label, str(value))
    console.print(overview)

    print_tables(console, report)


def print_tables(console: Any, report: dict[str, Any]) -> None:
    """The report's tables after the overview: per day, questions, words, ratings, pages."""
    from rich.table import Table

    days = Table(title="Questions per day")
    for column in ("day", "answered", "not covered", "error", "cancelled", "total"):
        days.add_column(column, justify="left" if column == "day" else "right")
    peak = max((d["total"] for d in report["per_day"]), default=0) or 1
    for day in report["per_day"]:
        if day["total"]:
            bar = "█" * max(1, round(20 * day["total"] / peak))
            days.add_row(
                day["day"],
                str(day["answered"]),
                str(day["not_covered"]),
                str(day["error"]),
                str(day["cancelled"]),
                f"{day['total']} {bar}",
            )
    console.print(days)

    for key, title in (
        ("coverage_gaps", "Coverage gaps (not covered by the docs)"),
        ("top_questions", "Top questions"),
    ):
        table = Table(title=title)
        table.add_column("asked", justify="right")
        table.add_column("question")
        table.add_column("last asked")
        for group in report[key]:
            question = group["question"]
            if group["variants"]:
                question += "\n[dim]also: " + " · ".join(group["variants"]) + "[/]"
            table.add_row(str(group["count"]), _plain(question, keep_markup=True), group["last_asked"][:10])
        console.print(table)

    missing = Table(title="Words readers looked for that no page uses")
    missing.add_column("turns", justify="right")
    missing.add_column("word")
    missing.add_column("latest question")
    for row in report["missing_words"]:
        missing.add_row(str(row["turns"]), _plain(row["word"]), _plain(row["example"]))
    console.print(missing)

    print_pages(console, report)


def print_pages(console: Any, report: dict[str, Any]) -> None:
    """Rated-down answers, the most cited pages and the pages never cited."""
    from rich.table import Table

    negative = Table(title="Rated down")
    for column in ("question", "answer", "sources", "thread"):
        negative.add_column(column)
    for row in report["negative_feedback"]:
        answer = row["answer"] if len(row["answer"]) < 200 else row["answer"][:200] + "…"
        negative.add_row(
            _plain(row["question"]), _plain(answer), "\n".join(row["cited_urls"]), row["thread_id"]
        )
    console.print(negative)

    cited = Table(title="Most cited pages")
    cited.add_column("cited", justify="right")
    cited.add_column("page")
    for page in report["top_cited_pages"]:
        cited.add_row(
            str(page["citations"]), _plain(page["title"] or "") + f"\n[dim]{_plain(page['url'])}[/]"
        )
    console.print(cited)
    console.print(f"pages never cited: {report['never_cited_total']}")
    for page in report["never_cited_pages"][:20]:
        console.print(f"  {_plain(page['url'])}", markup=False)
    console.print(f"[dim]{report['grouping']['note']}[/]")


def _plain(value: str, keep_markup: bool = False) -> str:
    """Reader text shown literally: Rich markup in it is escaped, terminal controls removed."""
    from rich.markup import escape

    value = terminal_safe(value)
    if keep_markup:  # only our own [dim] suffix is markup
        head, sep, tail = value.partition("\n[dim]also: ")
        if sep:
            return escape(head) + sep + escape(tail[: -len("[/]")]) + "[/]"
    return escape(value)


# --- export -------------------------------------------------------------------------------


def run_export(args: argparse.Namespace) -> None:
    out: Any = _TerminalSafeWriter(sys.stdout)
    if args.output:
        out = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    try:
        if args.url:
            written = _export_remote(args, out)
        else:
            written = asyncio.run(
                _with_scope(args, lambda engine, scope: _export_local(engine, scope, args.format, out))
            )
    finally:
        if args.output:
            out.close()
    if args.output:
        count = f"{written} turns" if written is not None else "the conversations"
        print(f"docsdesk: exported {count} to {args.output}", file=sys.stderr)


def _progress(total: int | None):
    """A progress bar on a terminal (stderr), nothing otherwise."""
    from contextlib import nullcontext

    if not sys.stderr.isatty():
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


async def _export_local(engine, scope, fmt: str, out) -> int:
    from docsdesk.insights.export import count_turns, export_chunks

    total = await count_turns(engine, scope)
    written = 0
    with _progress(total) as progress:
        task = progress.add_task("export", total=total) if progress else None
        async for chunk, rows in export_chunks(engine, scope, fmt):
            await asyncio.to_thread(out.write, chunk)
            written += rows
            if progress:
                progress.update(task, completed=min(written, total))
    await asyncio.to_thread(out.flush)
    return written


def _export_remote(args: argparse.Namespace, out) -> int | None:
    import httpx

    base, headers, query = _remote(args)
    query["format"] = args.format
    lines = 0
    try:
        with httpx.stream(
            "GET", f"{base}/admin/api/export", headers=headers, params=query, timeout=60
        ) as response:
            if response.status_code != 200:
                response.read()
                _remote_error(response)
            with _progress(None) as progress:
                task = progress.add_task("export", total=None) if progress else None
                for chunk in response.iter_text():
                    out.write(chunk)
                    lines += chunk.count("\n")
                    if progress:
                        progress.update(task, completed=lines)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach {base}: {exc}")
    out.flush()
    return lines if args.format == "jsonl" else None
