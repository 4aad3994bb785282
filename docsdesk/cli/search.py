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

from docsdesk.cli.resolve import add_assistant_arguments
from rag.urls import URL_STYLES

if TYPE_CHECKING:
    from rich.console import Console

    from docsdesk.cli.resolve import Resolved
    from docsdesk.core.config_file import DeploymentConfig
    from rag.collections import CollectionSummary
    from rag.search import DocsSearch, SearchResult

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def register(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    """Add the `ingest`, `search`, `eval` and `collections` subcommands."""
    _register_ingest(subparsers, formatter)
    _register_search(subparsers, formatter)
    _register_eval(subparsers, formatter)
    _register_collections(subparsers, formatter)


def _register_ingest(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="index documentation files (incremental: unchanged files are skipped)",
        description="Index the .md/.markdown/.mdx/.html/.htm files under PATH... into a collection.",
        formatter_class=formatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument(
        "--base-url", required=True, help="the published site's URL, e.g. https://docs.example.com/"
    )
    parser.add_argument(
        "--collection",
        help="collection name (default: the first collection of --assistant, or of the main "
        "assistant: docsdesk.toml, or DOCSDESK_COLLECTION without one)",
    )
    parser.add_argument("--assistant", metavar="NAME", help="index into this assistant's first collection")
    parser.add_argument(
        "--url-style", choices=URL_STYLES, default="mkdocs", help="how file paths map to URLs"
    )
    add_exclude_argument(parser)
    parser.add_argument(
        "--url",
        metavar="SERVER",
        help="upload the folder to this docsdesk server instead (from CI: no database needed); "
        "with --collection and --token",
    )
    parser.add_argument("--token", help="with --url: the admin token (default: DOCSDESK_ADMIN_TOKEN)")
    parser.add_argument(
        "--wait",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="with --url: how long to wait for the server's ingest job to end (default 1800)",
    )
    parser.set_defaults(func=run_ingest)


def _register_search(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    parser = subparsers.add_parser(
        "search",
        help="search the indexed documentation",
        formatter_class=formatter,
        description="Search as the assistant does: by default the collections the default "
        "assistant answers from (several are searched together; each result says which).",
    )
    parser.add_argument("query")
    parser.add_argument("-k", type=int, default=5, help="number of results")
    add_assistant_arguments(parser)
    add_tenant_argument(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(func=run_search)


def _register_eval(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure search and answer quality on a question set (recall@1, recall@5, MRR, answers)",
        formatter_class=formatter,
        description="Ask each question of QUESTIONS.tsv (question<TAB>expected URL[,URL...][<TAB>phrase]; "
        "a page URL matches any of its anchors; expected '-' marks an out-of-scope question) and print "
        "recall@1, recall@5, MRR and each question whose expected page did not rank first, with what "
        "ranked instead; then the offline answers: how many contain the phrase, covered questions "
        "refused, out-of-scope questions refused citing nothing, and each miss.",
    )
    parser.add_argument("questions", type=Path, metavar="QUESTIONS.tsv")
    add_assistant_arguments(parser)
    add_tenant_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the figures and misses as JSON")
    parser.set_defaults(func=run_eval)


def _register_collections(
    subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]
) -> None:
    parser = subparsers.add_parser(
        "collections",
        help="list or remove documentation collections",
        formatter_class=formatter,
        description="List the collections (files, chunks, embedder, last ingest, the assistants "
        "that answer from each), or remove one.",
    )
    parser.add_argument("--assistant", metavar="NAME", help="only the collections of this assistant")
    parser.set_defaults(func=run_collections, action=None)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    remove = actions.add_parser(
        "remove", help="remove a collection and everything indexed in it", formatter_class=formatter
    )
    remove.add_argument("name")
    remove.set_defaults(func=run_collections)
    actions.add_parser(
        "list", help="list the collections (the default)", formatter_class=formatter
    ).set_defaults(func=run_collections)


def add_tenant_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tenant",
        default="",
        metavar="NAME",
        help="search as this tenant's readers do: their own reader terms apply too (docsdesk terms)",
    )


def checked_tenant(args: argparse.Namespace) -> str:
    """`--tenant`, or exit naming what is wrong with it."""
    from rag.reader_terms import ReaderTermError, checked_name

    try:
        return checked_name(args.tenant, "--tenant", empty=True)
    except ReaderTermError as exc:
        raise SystemExit(f"error: {exc}") from None


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
    if args.url:
        from docsdesk.cli.upload import remote_ingest

        remote_ingest(args)
        return
    asyncio.run(_ingest(args))


def run_search(args: argparse.Namespace) -> None:
    asyncio.run(_search(args))


def run_eval(args: argparse.Namespace) -> None:
    asyncio.run(_eval(args))


def run_collections(args: argparse.Namespace) -> None:
    asyncio.run(_collections(args))


async def _ingest(args: argparse.Namespace) -> None:
    from docsdesk.cli.resolve import chosen_assistant, deployment
    from docsdesk.core.database import open_database
    from docsdesk.core.settings import get_settings
    from rag.embeddings import build_embedder
    from rag.ingest import ingest

    settings = get_settings()
    collection = args.collection
    if collection is None:
        collection = chosen_assistant(deployment(settings, args), args.assistant).collections[0]
    embedder = build_embedder(settings.embeddings, settings)
    db = await open_database(settings)
    try:
        summary = await ingest(
            db.engine,
            args.paths,
            base_url=args.base_url,
            collection=collection,
            url_style=args.url_style,
            embedder=embedder,
            progress=sys.stderr.isatty(),
            exclude=args.exclude,
        )
    finally:
        await db.close()
    print(
        f"docsdesk: indexed {', '.join(map(str, args.paths))} into collection '{collection}': {summary.describe()}"
    )


@asynccontextmanager
async def serving_search(args: argparse.Namespace) -> AsyncIterator[tuple[DocsSearch, Resolved]]:
    """The search the assistant does, and what to search: `--collection`, or the collections
    of `--assistant` (default: the default assistant), resolved as the server resolves them."""
    from docsdesk.cli.resolve import resolve
    from docsdesk.core.database import open_database
    from docsdesk.core.settings import get_settings
    from rag.embeddings import build_embedder
    from rag.search import DocsSearch

    settings = get_settings()
    embedder = build_embedder(settings.embeddings, settings)
    db = await open_database(settings)
    try:
        resolved = await resolve(db.engine, settings, args)
        search = DocsSearch(db.engine, embedder, public_url=settings.public_url or "http://127.0.0.1:8000")
        yield search, resolved
    finally:
        await db.close()


async def _search(args: argparse.Namespace) -> None:
    from rag.evaluate import scope_of

    tenant = checked_tenant(args)
    async with serving_search(args) as (search, resolved):
        results = await search.search(args.query, k=args.k, tenant=tenant, **scope_of(resolved.collections))
    several = len(resolved.collections) > 1
    if args.json:
        print(json.dumps([result_json(r) for r in results], ensure_ascii=False, indent=2))
    else:
        from rich.console import Console

        print_results(Console(), results, with_collection=several)


async def _eval(args: argparse.Namespace) -> None:
    from docsdesk.assistant.answer_eval import evaluate_answers
    from rag.evaluate import evaluate, load_questions

    cases = load_questions(args.questions)  # a malformed file fails before the database starts
    tenant = checked_tenant(args)
    async with serving_search(args) as (search, resolved):
        report = await evaluate(search, cases, resolved.collections, tenant=tenant)
        answers = await evaluate_answers(search, cases, resolved.collections, tenant=tenant)
    if args.json:
        document = {"collection": resolved.label, **report.as_dict(), **answers.as_dict()}
        if resolved.assistant is not None:
            document["assistant"] = resolved.assistant.name
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        who = f"assistant {resolved.assistant.name}, " if resolved.assistant is not None else ""
        print(f"{who}collection {resolved.label}")
        print("\n".join(report.lines()))
        print()
        print("\n".join(answers.lines()))


async def _collections(args: argparse.Namespace) -> None:
    from docsdesk.cli.resolve import chosen_assistant, deployment
    from docsdesk.core.database import open_database
    from docsdesk.core.settings import get_settings
    from rag.collections import CollectionSummary, list_collections, remove_collection
    from rag.embeddings import build_embedder

    settings = get_settings()
    config = deployment(settings, args)
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
    known = {row.name for row in rows}
    configured = [c for a in config.assistants for c in a.collections if c not in known]
    rows += [CollectionSummary(name, 0, 0, None, None) for name in dict.fromkeys(configured)]
    if args.assistant:
        wanted = chosen_assistant(config, args.assistant).collections
        rows = [row for row in rows if row.name in wanted]
    print_collections(
        sorted(rows, key=lambda r: r.name), config, embedder.name if embedder is not None else None
    )


def print_collections(rows: list[CollectionSummary], config: DeploymentConfig, embedder: str | None) -> None:
    """The table, with the assistants that answer from each collection, and a note for each
    collection embedded otherwise than the configured embedder (re-embedded on its next ingest)."""
    from rich.console import Console
    from rich.table import Table

    from rag.collections import embedder_note

    table = Table(
        "collection", "files", "chunks", "embedder", "last ingest", "assistants", title="collections"
    )
    for row in rows:
        last = row.last_ingest.astimezone().strftime("%Y-%m-%d %H:%M") if row.last_ingest else "-"
        users = ", ".join(config.users_of(row.name)) or "-"
        files = str(row.files) if row.files else "0 (not indexed: docsdesk ingest)"
        table.add_row(row.name, files, str(row.chunks), row.embedder or "none (full-text)", last, users)
    Console().print(table if rows else "no collections: index documentation with `docsdesk ingest`")
    for row in rows:
        note = embedder_note(row, embedder) if row.files else None
        if note:
            print(f"docsdesk: {note}")


def result_json(result: SearchResult) -> dict:
    return {
        "collection": result.collection,
        "title": result.title,
        "heading_path": result.heading_path,
        "url": result.url,
        "snippet": result.snippet,
        "score": round(result.score, 6),
    }


def print_results(console: Console, results: list[SearchResult], with_collection: bool = False) -> None:
    from rich.markup import escape

    if not results:
        console.print("no results")
        return
    for number, result in enumerate(results, start=1):
        headings = [h for h in result.heading_path if h != result.title]
        heading = " › ".join([result.title, *headings])
        where = f"  [magenta]{escape(result.collection)}[/magenta]" if with_collection else ""
        console.print(f"[bold]{number}. {escape(heading)}[/bold]  [dim]{result.score:.4f}[/dim]{where}")
        console.print(f"   [cyan]{escape(result.url)}[/cyan]")
        console.print("   " + _BOLD.sub(r"[bold yellow]\1[/bold yellow]", escape(result.snippet)))
