"""`docsdesk sources`: named sources that keep a collection fresh (a published site by its
sitemap or by crawling, a git repository), their syncs, and the list of them."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from docsdesk.cli.common import fail, settings
from rag.urls import URL_STYLES

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from rag.source_state import SourceRecord


def register(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    parser = subparsers.add_parser(
        "sources",
        help="sources that keep collections fresh: a site (sitemap or crawl), a git repository",
        description="Without an action: list the sources with their last sync. `sources add` "
        "records a source, `sources sync NAME` brings its collection up to date (only what "
        "changed is fetched and re-chunked; what disappeared is removed).",
        formatter_class=formatter,
    )
    parser.set_defaults(func=run_sources, action=None)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    add = actions.add_parser("add", help="record a source", formatter_class=formatter)
    add.add_argument("name", help="the source's name (letters, digits, '.', '_', '-')")
    kind = add.add_mutually_exclusive_group(required=True)
    kind.add_argument("--sitemap", metavar="URL", help="the pages a sitemap lists")
    kind.add_argument(
        "--crawl", metavar="URL", help="the pages reached from URL (same origin and path prefix)"
    )
    kind.add_argument("--git", metavar="PATH_OR_URL", help="the files of a git repository's commit")
    add.add_argument("--collection", help="the collection the source feeds (default: the source's name)")
    add.add_argument("--ref", default="main", help="with --git: the branch, tag or commit")
    add.add_argument("--path", default="", help="with --git: the docs folder in the repository, e.g. docs/")
    add.add_argument(
        "--base-url", help="with --git: where the files are published (default: site-relative URLs)"
    )
    add.add_argument(
        "--url-style", choices=URL_STYLES, default="mkdocs", help="with --git: how paths map to URLs"
    )
    add.add_argument("--concurrency", type=int, default=4, help="with a site: requests at once")
    add.add_argument("--rate", type=float, default=10.0, help="with a site: requests a second at most")
    add.add_argument("--max-pages", type=int, default=5000, help="with a site: pages read at most")
    add.add_argument(
        "--every",
        type=parse_every,
        metavar="DURATION",
        help="sync on a schedule, e.g. 30m, 6h, 1d (run by `docsdesk worker` or `docsdesk serve`)",
    )
    sync = actions.add_parser("sync", help="sync a source now, in the foreground", formatter_class=formatter)
    sync.add_argument("name")
    remove = actions.add_parser(
        "remove",
        help="forget a source and remove its documents from its collection",
        formatter_class=formatter,
    )
    remove.add_argument("name")


def run_sources(args: argparse.Namespace) -> None:
    asyncio.run(_sources(args))


async def _sources(args: argparse.Namespace) -> None:
    from docsdesk.core.database import open_database

    config = settings()
    db = await open_database(config)
    try:
        if args.action == "add":
            await _add(db.engine, args)
        elif args.action == "sync":
            await _sync(db.engine, args.name, config)
        elif args.action == "remove":
            await _remove(db.engine, args.name)
        else:
            _print(await _list(db.engine))
    finally:
        await db.close()


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_EVERY = 60


def parse_every(value: str) -> int:
    """`--every`: a number and a unit (s, m, h, d), at least a minute; seconds."""
    number, unit = value.strip()[:-1], value.strip()[-1:].lower()
    if unit not in _UNITS or not number.isdigit():
        raise argparse.ArgumentTypeError(f"{value[:40]!r}: use a number and a unit, e.g. 30m, 6h, 1d")
    seconds = int(number) * _UNITS[unit]
    if not MIN_EVERY <= seconds <= 366 * 86400:
        raise argparse.ArgumentTypeError(f"{value[:40]!r}: between 1m and 366d")
    return seconds


def describe_every(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def source_settings(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(kind, settings) of `sources add`'s options."""
    if args.git:
        git: dict[str, Any] = {
            "repo": args.git,
            "ref": args.ref,
            "path": args.path,
            "url_style": args.url_style,
        }
        if args.base_url:
            git["base_url"] = args.base_url
        return "git", git
    site: dict[str, Any] = {"concurrency": args.concurrency, "rate": args.rate, "max_pages": args.max_pages}
    site["sitemap" if args.sitemap else "crawl"] = args.sitemap or args.crawl
    return "site", site


async def _add(engine: AsyncEngine, args: argparse.Namespace) -> None:
    from rag.source_state import SourceStateError
    from rag.source_sync import create_source

    kind, options = source_settings(args)
    try:
        record = await create_source(
            engine, args.name, args.collection or args.name, kind, options, getattr(args, "every", None)
        )
    except SourceStateError as exc:
        fail(str(exc))
        return
    print(
        f"docsdesk: added {kind} source '{record.name}' feeding collection '{record.collection}'; "
        f"run `docsdesk sources sync {record.name}`"
    )


async def _sync(engine: AsyncEngine, name: str, config: Any) -> None:
    from rag.embeddings import build_embedder
    from rag.source_state import SourceStateError
    from rag.source_sync import sync_source

    embedder = build_embedder(config.embeddings, config)
    try:
        counts = await sync_source(
            engine,
            name,
            cache_dir=config.data_dir / "sources",
            embedder=embedder,
            progress=sys.stderr.isatty(),
        )
    except SourceStateError as exc:
        fail(str(exc))
        return
    print(f"docsdesk: synced source '{name}': {counts.describe()}")
    for failure in counts.failures[:10]:
        print(f"docsdesk:   failed {failure.key}: {failure.error}")
    if counts.failed > 10:
        print(f"docsdesk:   and {counts.failed - 10} more (see `docsdesk sources`)")
    for skip in counts.skipped[:10]:
        print(f"docsdesk:   skipped {skip.key}: {skip.error}")


async def _remove(engine: AsyncEngine, name: str) -> None:
    from rag.source_state import SourceStateError, remove_source

    try:
        removed = await remove_source(engine, name)
    except SourceStateError as exc:
        fail(str(exc))
        return
    print(f"docsdesk: removed source '{name}' and its {removed} documents")


async def _list(engine: AsyncEngine) -> list[SourceRecord]:
    from rag.source_state import list_sources

    return await list_sources(engine)


def describe_origin(record: SourceRecord) -> str:
    options = record.settings
    if record.kind == "git":
        path = f" {options.get('path')}" if options.get("path") else ""
        return f"git {options.get('repo')} @ {options.get('ref')}{path}"
    return f"sitemap {options['sitemap']}" if options.get("sitemap") else f"crawl {options.get('crawl')}"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "now"


def _print(records: list[SourceRecord]) -> None:
    from rich.console import Console
    from rich.table import Table

    if not records:
        print("docsdesk: no sources (add one with `docsdesk sources add NAME --sitemap URL`)")
        return
    table = Table(
        "source", "collection", "from", "last sync", "took", "added", "changed", "removed", "unchanged", "failed",
        "skipped", "every", "next run", title="sources",
    )  # fmt: skip
    for record in records:
        last = record.last
        when = _when(record.last_sync_at) if record.last_sync_at else "never"
        counts = (
            [
                str(n)
                for n in (
                    last.added,
                    last.changed,
                    last.removed,
                    last.unchanged,
                    last.failed,
                    len(last.skipped),
                )
            ]
            if last
            else ["-"] * 6
        )
        took = f"{last.seconds:.1f} s" if last else "-"
        every = describe_every(record.every_seconds) if record.every_seconds else "-"
        upcoming = _when(record.next_run_at) if record.every_seconds else "-"
        table.add_row(
            record.name, record.collection, describe_origin(record), when, took, *counts, every, upcoming
        )
    # Wide by default so a pipe or a log keeps one source per line; COLUMNS, when set, wins.
    console = Console(width=None if os.environ.get("COLUMNS") else 200)
    console.print(table)
    for record in records:
        if record.last_error:
            times = f" ({record.failing} times in a row)" if record.failing > 1 else ""
            console.print(f"{record.name}: last sync failed{times}: {record.last_error}", markup=False)
        for failure in (record.last.failures if record.last else [])[:5]:
            console.print(f"{record.name}: {failure.key}: {failure.error}", markup=False)
        for skip in (record.last.skipped if record.last else [])[:5]:
            console.print(f"{record.name}: skipped {skip.key}: {skip.error}", markup=False)
