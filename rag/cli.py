"""`docsdesk ingest` and `docsdesk search`: the documentation-search commands.

`register(subparsers)` adds both to the docsdesk argparse parser; each sets `func`, which
runs the command and raises SystemExit(1) (after one line on stderr) when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from database import DatabaseUnavailable, open_database
from rag.embeddings import EmbeddingError, build_embedder
from rag.ingest import IngestError, IngestSummary, ingest
from rag.search import DocsSearch, SearchResult
from rag.urls import URL_STYLES
from settings import get_settings

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `ingest` and `search` subcommands."""
    ingest_parser = subparsers.add_parser(
        "ingest",
        help="index documentation files (incremental: unchanged files are skipped)",
        description="Index the .md/.markdown/.mdx/.html/.htm files under PATH... into a collection.",
    )
    ingest_parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest_parser.add_argument("--base-url", required=True, help="the published site's URL, e.g. https://docs.example.com/")
    ingest_parser.add_argument("--collection", help="collection name (default: DOCSDESK_COLLECTION)")
    ingest_parser.add_argument("--url-style", choices=URL_STYLES, default="mkdocs", help="how file paths map to URLs")
    ingest_parser.set_defaults(func=run_ingest)

    search_parser = subparsers.add_parser("search", help="search the indexed documentation")
    search_parser.add_argument("query")
    search_parser.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    search_parser.add_argument("--collection", help="search one collection (default: all)")
    search_parser.add_argument("--json", action="store_true", help="print a JSON list")
    search_parser.set_defaults(func=run_search)


def run_ingest(args: argparse.Namespace) -> None:
    _run(_ingest(args))


def run_search(args: argparse.Namespace) -> None:
    _run(_search(args))


def _run(coroutine) -> None:
    """Run a command; expected failures print one line to stderr and exit 1."""
    try:
        asyncio.run(coroutine)
        return
    except (DatabaseUnavailable, IngestError, EmbeddingError) as exc:
        print(f"docsdesk: error: {_first_line(exc)}", file=sys.stderr)
    except SQLAlchemyError as exc:
        print(f"docsdesk: error: database: {_first_line(getattr(exc, 'orig', None) or exc)}", file=sys.stderr)
    except ValueError as exc:  # invalid settings (pydantic names the field on the next lines)
        lines = [line.split(" [type=")[0].strip() for line in str(exc).strip().splitlines()[:3]]
        print(f"docsdesk: error: {'; '.join(lines) or type(exc).__name__}", file=sys.stderr)
    except KeyboardInterrupt:
        print("docsdesk: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    raise SystemExit(1)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


async def _ingest(args: argparse.Namespace) -> None:
    settings = get_settings()
    embedder = build_embedder(settings.embeddings, settings)
    db = await open_database(settings)
    try:
        summary = await ingest(
            db.engine,
            args.paths,
            base_url=args.base_url,
            collection=args.collection or settings.collection,
            url_style=args.url_style,
            embedder=embedder,
            progress=sys.stderr.isatty(),
        )
    finally:
        await db.close()
    Console().print(summary_table(summary))


def summary_table(summary: IngestSummary) -> Table:
    """One row: files added/changed/removed/unchanged, chunks written, seconds, MB/s."""
    table = Table("added", "changed", "removed", "unchanged", "re-embedded", "chunks", "seconds", "MB/s", title="ingest")
    table.add_row(
        str(summary.added),
        str(summary.changed),
        str(summary.removed),
        str(summary.unchanged),
        str(summary.reembedded),
        str(summary.chunks),
        f"{summary.seconds:.2f}",
        f"{summary.mb_per_second:.2f}",
    )
    return table


async def _search(args: argparse.Namespace) -> None:
    settings = get_settings()
    embedder = build_embedder(settings.embeddings, settings)
    db = await open_database(settings)
    try:
        search = DocsSearch(db.engine, embedder)
        await search.startup()
        results = await search.search(args.query, k=args.k, collection=args.collection)
    finally:
        await db.close()
    if args.json:
        print(json.dumps([result_json(r) for r in results], ensure_ascii=False, indent=2))
    else:
        print_results(Console(), results)


def result_json(result: SearchResult) -> dict:
    return {
        "title": result.title,
        "heading_path": result.heading_path,
        "url": result.url,
        "snippet": result.snippet,
        "score": round(result.score, 6),
    }


def print_results(console: Console, results: list[SearchResult]) -> None:
    if not results:
        console.print("no results")
        return
    for number, result in enumerate(results, start=1):
        headings = [h for h in result.heading_path if h != result.title]
        heading = " › ".join([result.title, *headings])
        console.print(f"[bold]{number}. {escape(heading)}[/bold]  [dim]{result.score:.4f}[/dim]")
        console.print(f"   [cyan]{escape(result.url)}[/cyan]")
        console.print("   " + _BOLD.sub(r"[bold yellow]\1[/bold yellow]", escape(result.snippet)))
