"""`docsdesk ingest`, `search`, `eval` and `collections`: the documentation-search commands.

`register(subparsers, formatter)` adds them to the docsdesk argparse parser; each sets `func`.
Heavy modules (SQLAlchemy, rich, the search code) are imported when a command runs, not when
the parser is built. Expected failures propagate to `docsdesk.cli.main`, which prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rag.urls import URL_STYLES

if TYPE_CHECKING:
    from rich.console import Console

    from rag.search import DocsSearch, SearchResult

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def register(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    """Add the `ingest`, `search`, `eval` and `collections` subcommands."""
    ingest_parser = subparsers.add_parser(
        "ingest",
        help="index documentation files (incremental: unchanged files are skipped)",
        description="Index the .md/.markdown/.mdx/.html/.htm files under PATH... into a collection.",
        formatter_class=formatter,
    )
    ingest_parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest_parser.add_argument(
        "--base-url", required=True, help="the published site's URL, e.g. https://docs.example.com/"
    )
    ingest_parser.add_argument("--collection", help="collection name (default: DOCSDESK_COLLECTION)")
    ingest_parser.add_argument(
        "--url-style", choices=URL_STYLES, default="mkdocs", help="how file paths map to URLs"
    )
    add_exclude_argument(ingest_parser)
    ingest_parser.set_defaults(func=run_ingest)

    search_parser = subparsers.add_parser(
        "search",
        help="search the indexed documentation",
        formatter_class=formatter,
        description="Search as the assistant does: by default the collection the server answers from.",
    )
    search_parser.add_argument("query")
    search_parser.add_argument("-k", type=int, default=5, help="number of results")
    search_parser.add_argument(
        "--collection",
        help="collection to search (default: the one the server answers from: "
        "DOCSDESK_COLLECTION, or docsdesk's own docs while that is empty)",
    )
    search_parser.add_argument("--json", action="store_true", help="print a JSON list")
    search_parser.set_defaults(func=run_search)

    eval_parser = subparsers.add_parser(
        "eval",
        help="measure search and answer quality on a question set (recall@1, recall@5, MRR, answers)",
        formatter_class=formatter,
        description="Ask each question of QUESTIONS.tsv (question<TAB>expected URL[,URL...][<TAB>phrase]; "
        "a page URL matches any of its anchors; expected '-' marks an out-of-scope question) and print "
        "recall@1, recall@5, MRR and each question whose expected page did not rank first, with what "
        "ranked instead; then the offline answers: how many contain the phrase, covered questions "
        "refused, out-of-scope questions refused citing nothing, and each miss.",
    )
    eval_parser.add_argument("questions", type=Path, metavar="QUESTIONS.tsv")
    eval_parser.add_argument(
        "--collection",
        help="collection to search (default: the one the server answers from)",
    )
    eval_parser.add_argument("--json", action="store_true", help="print the figures and misses as JSON")
    eval_parser.set_defaults(func=run_eval)

    collections_parser = subparsers.add_parser(
        "collections",
        help="list or remove documentation collections",
        formatter_class=formatter,
        description="List the collections (files, chunks, embedder, last ingest), or remove one.",
    )
    collections_parser.set_defaults(func=run_collections, action=None)
    actions = collections_parser.add_subparsers(dest="action", metavar="ACTION")
    remove = actions.add_parser(
        "remove", help="remove a collection and everything indexed in it", formatter_class=formatter
    )
    remove.add_argument("name")
    remove.set_defaults(func=run_collections)
    actions.add_parser(
        "list", help="list the collections (the default)", formatter_class=formatter
    ).set_defaults(func=run_collections)


def add_exclude_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip files or folders matching GLOB (repeatable; a name, or a path from the docs root). "
        "Theme and template folders (mkdocs overrides/, Docusaurus src/theme/, node_modules/, build/) "
        "are skipped by default",
    )


def checked_base_url(base_url: str) -> str:
    """`base_url` if it is an http(s) URL; a ValueError (one line for the console) otherwise."""
    from rag.urls import check_base_url

    return check_base_url(base_url)


def run_ingest(args: argparse.Namespace) -> None:
    checked_base_url(args.base_url)  # before the database starts
    asyncio.run(_ingest(args))


def run_search(args: argparse.Namespace) -> None:
    asyncio.run(_search(args))


def run_eval(args: argparse.Namespace) -> None:
    asyncio.run(_eval(args))


def run_collections(args: argparse.Namespace) -> None:
    asyncio.run(_collections(args))


async def _ingest(args: argparse.Namespace) -> None:
    from docsdesk.core.database import open_database
    from docsdesk.core.settings import get_settings
    from rag.embeddings import build_embedder
    from rag.ingest import ingest

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
            exclude=args.exclude,
        )
    finally:
        await db.close()
    collection = args.collection or settings.collection
    print(
        f"docsdesk: indexed {', '.join(map(str, args.paths))} into collection '{collection}': {summary.describe()}"
    )


@asynccontextmanager
async def serving_search(collection: str | None) -> AsyncIterator[tuple[DocsSearch, str]]:
    """The search the assistant does, and the collection to search: `collection`, or the one
    the server answers from (DOCSDESK_COLLECTION, or docsdesk's own docs while it is empty)."""
    from docsdesk.core.database import open_database
    from docsdesk.core.settings import get_settings
    from rag.collections import serving_collection
    from rag.embeddings import build_embedder
    from rag.search import DocsSearch

    settings = get_settings()
    embedder = build_embedder(settings.embeddings, settings)
    db = await open_database(settings)
    try:
        search = DocsSearch(db.engine, embedder, public_url=settings.public_url or "http://127.0.0.1:8000")
        yield search, collection or await serving_collection(db.engine, settings.collection)
    finally:
        await db.close()


async def _search(args: argparse.Namespace) -> None:
    async with serving_search(args.collection) as (search, collection):
        results = await search.search(args.query, k=args.k, collection=collection)
    if args.json:
        print(json.dumps([result_json(r) for r in results], ensure_ascii=False, indent=2))
    else:
        from rich.console import Console

        print_results(Console(), results)


async def _eval(args: argparse.Namespace) -> None:
    from docsdesk.assistant.answer_eval import evaluate_answers
    from rag.evaluate import evaluate, load_questions

    cases = load_questions(args.questions)  # a malformed file fails before the database starts
    async with serving_search(args.collection) as (search, collection):
        report = await evaluate(search, cases, collection)
        answers = await evaluate_answers(search, cases, collection)
    if args.json:
        document = {"collection": collection, **report.as_dict(), **answers.as_dict()}
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        print(f"collection {collection}")
        print("\n".join(report.lines()))
        print()
        print("\n".join(answers.lines()))


async def _collections(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from docsdesk.core.database import open_database
    from docsdesk.core.settings import get_settings
    from rag.collections import embedder_note, list_collections, remove_collection
    from rag.embeddings import build_embedder

    settings = get_settings()
    embedder = build_embedder(settings.embeddings, settings)
    db = await open_database(settings)
    try:
        if args.action == "remove":
            if not await remove_collection(db.engine, args.name):
                raise ValueError(f"no collection named {args.name!r}")
            print(f"docsdesk: removed collection {args.name!r}")
            return
        rows = await list_collections(db.engine)
    finally:
        await db.close()
    table = Table("collection", "files", "chunks", "embedder", "last ingest", title="collections")
    for row in rows:
        last = row.last_ingest.astimezone().strftime("%Y-%m-%d %H:%M") if row.last_ingest else "-"
        table.add_row(row.name, str(row.files), str(row.chunks), row.embedder or "none (full-text)", last)
    Console().print(table if rows else "no collections: index documentation with `docsdesk ingest`")
    for row in rows:
        note = embedder_note(row, embedder.name if embedder is not None else None)
        if note:
            print(f"docsdesk: {note}")


def result_json(result: SearchResult) -> dict:
    return {
        "title": result.title,
        "heading_path": result.heading_path,
        "url": result.url,
        "snippet": result.snippet,
        "score": round(result.score, 6),
    }


def print_results(console: Console, results: list[SearchResult]) -> None:
    from rich.markup import escape

    if not results:
        console.print("no results")
        return
    for number, result in enumerate(results, start=1):
        headings = [h for h in result.heading_path if h != result.title]
        heading = " › ".join([result.title, *headings])
        console.print(f"[bold]{number}. {escape(heading)}[/bold]  [dim]{result.score:.4f}[/dim]")
        console.print(f"   [cyan]{escape(result.url)}[/cyan]")
        console.print("   " + _BOLD.sub(r"[bold yellow]\1[/bold yellow]", escape(result.snippet)))
