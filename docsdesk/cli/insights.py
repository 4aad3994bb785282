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
import sys
from typing import Any, TextIO

from docsdesk.cli.report_view import print_report, terminal_safe

__all__ = ["print_report", "register", "terminal_safe"]

FORMATS = ("jsonl", "csv", "md")


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
    export.add_argument("--tickets", action="store_true", help="export the hand-off tickets instead")
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
    parser.add_argument(
        "--channel",
        choices=("widget", "mcp"),
        help="one channel only: the chat widget, or coding agents' searches over MCP (default: both)",
    )
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
    if args.channel:
        query["channel"] = args.channel
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
    from docsdesk.core.turn import TurnChannel
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
            channel=TurnChannel(args.channel) if args.channel else None,
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


# --- export -------------------------------------------------------------------------------


def run_export(args: argparse.Namespace) -> None:
    out: Any = _TerminalSafeWriter(sys.stdout)
    if args.output:
        out = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
    try:
        if args.url:
            written = _export_remote(args, out)
        else:
            local = _export_tickets if getattr(args, "tickets", False) else _export_local
            written = asyncio.run(
                _with_scope(args, lambda engine, scope: local(engine, scope, args.format, out))
            )
    finally:
        if args.output:
            out.close()
    if args.output:
        what = "tickets" if getattr(args, "tickets", False) else "turns"
        count = f"{written} {what}" if written is not None else f"the {what}"
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


async def _export_tickets(engine, scope, fmt: str, out) -> int:
    from docsdesk.insights.export import ticket_chunks

    written = 0
    async for chunk, rows in ticket_chunks(engine, scope, fmt):
        await asyncio.to_thread(out.write, chunk)
        written += rows
    await asyncio.to_thread(out.flush)
    return written


def _export_remote(args: argparse.Namespace, out) -> int | None:
    import httpx

    base, headers, query = _remote(args)
    query["format"] = args.format
    if getattr(args, "tickets", False):
        query["of"] = "tickets"
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
