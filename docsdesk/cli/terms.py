"""`docsdesk terms`: a collection's own reader terms (rag.reader_terms), the reader phrases its
docs team maps to the documentation's words; search uses them at once, in every process."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from docsdesk.cli.common import fail, settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from rag.reader_terms import ReaderTerm


def register(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    parser = subparsers.add_parser(
        "terms",
        help="a collection's own reader terms: readers' phrases for the documentation's words",
        description="Readers ask in their own words ('kudos') for what the documentation names "
        "otherwise ('endorsement'). Each row maps a reader phrase (1-3 words) to documentation "
        "terms; search adds those terms to a query holding the phrase (a row replaces the built-in "
        "thesaurus's row for the same phrase). Without an action: list the rows. Files are TSV "
        "with the header reader<TAB>docs, docs comma-separated.",
        formatter_class=formatter,
    )
    parser.set_defaults(func=run_terms, action=None)
    add_scope_options(parser)
    common = argparse.ArgumentParser(add_help=False)
    add_scope_options(common, default=argparse.SUPPRESS)  # before or after the action
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser(
        "list", help="list the rows (the default)", parents=[common], formatter_class=formatter
    )
    add = actions.add_parser(
        "add",
        help="add a row, or replace the terms of its phrase",
        parents=[common],
        formatter_class=formatter,
    )
    add.add_argument("reader", help="the reader's phrase, e.g. 'give kudos'")
    add.add_argument(
        "docs", nargs="+", help="the documentation's terms (separate arguments or comma-separated)"
    )
    remove = actions.add_parser(
        "remove", help="remove a phrase's row", parents=[common], formatter_class=formatter
    )
    remove.add_argument("reader")
    load = actions.add_parser(
        "import",
        help="add the rows of a TSV file (all or none: every bad line is reported first)",
        parents=[common],
        formatter_class=formatter,
    )
    load.add_argument("file", metavar="FILE", help="reader<TAB>docs rows under that header; '-' for stdin")
    load.add_argument(
        "--replace", action="store_true", help="the collection's rows become the file's exactly"
    )
    actions.add_parser(
        "export", help="print the rows as a TSV file", parents=[common], formatter_class=formatter
    )


def add_scope_options(parser: argparse.ArgumentParser, default: object = None) -> None:
    parser.add_argument(
        "--collection",
        default=default,
        help="the collection (default: the first of the assistant's collections)",
    )
    parser.add_argument(
        "--assistant",
        metavar="NAME",
        default=default,
        help="the assistant whose collection (default: the main one)",
    )
    parser.add_argument(
        "--tenant",
        default="" if default is None else default,
        help="rows for this tenant's readers only (default: rows for every reader)",
    )


def run_terms(args: argparse.Namespace) -> None:
    asyncio.run(_terms(args))


def read_file(name: str) -> bytes:
    """The file's bytes (stdin for '-'), refusing one over the size a terms file may have."""
    from rag.reader_terms import MAX_FILE_BYTES

    if name == "-":
        content = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    else:
        try:
            with Path(name).open("rb") as file:
                content = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            fail(f"cannot read {name}: {exc.strerror or exc}")
            raise AssertionError from None  # unreachable: fail raises
    if len(content) > MAX_FILE_BYTES:
        fail(f"{name} is larger than {MAX_FILE_BYTES} bytes")
    return content


async def _terms(args: argparse.Namespace) -> None:
    from docsdesk.cli.resolve import chosen_assistant, deployment
    from docsdesk.core.database import open_database
    from rag.reader_terms import ReaderTermError, TermFileError, checked_name, parse_file

    config = settings()
    try:
        tenant = checked_name(args.tenant, "--tenant", empty=True)
        rows = parse_file(read_file(args.file)) if args.action == "import" else None
    except TermFileError as exc:
        for number, problem in exc.problems:
            print(
                f"docsdesk: {args.file}:{number}: {problem}" if number else f"docsdesk: {problem}",
                file=sys.stderr,
            )
        fail(f"{args.file}: {len(exc.problems)} bad lines; nothing imported")
        return
    except ReaderTermError as exc:
        fail(str(exc))
        return
    deployed = deployment(config, args)
    collection = args.collection or chosen_assistant(deployed, args.assistant).collections[0]
    db = await open_database(config)
    try:
        if args.action in ("add", "import"):
            await _check_collection(
                db.engine, collection, [c for a in deployed.assistants for c in a.collections]
            )
        await _act(db.engine, args, collection, tenant, rows)
    except ReaderTermError as exc:
        fail(str(exc))
    finally:
        await db.close()


async def _check_collection(engine: AsyncEngine, name: str, configured: list[str]) -> None:
    """A collection that exists or an assistant answers from; a one-line error otherwise."""
    from rag.collections import collection_exists, list_collections

    if name in configured or await collection_exists(engine, name):
        return
    known = [summary.name for summary in await list_collections(engine)]
    listed = ", ".join(dict.fromkeys(known + configured)) or "none"
    fail(f"no collection named {name!r} (collections: {listed})")


async def _act(
    engine: AsyncEngine, args: argparse.Namespace, collection: str, tenant: str, rows: list[ReaderTerm] | None
) -> None:
    from rag.reader_terms import add_term, checked_term, import_terms, list_terms, remove_term, to_file

    where = f"collection {collection!r}" + (f", tenant {tenant!r}" if tenant else "")
    if args.action == "add":
        row = checked_term(args.reader, ", ".join(args.docs))
        added = await add_term(engine, collection, row, tenant)
        verb = "added" if added else "replaced the terms of"
        print(f"docsdesk: {verb} {row.reader!r} -> {', '.join(row.docs)} ({where})")
    elif args.action == "remove":
        if not await remove_term(engine, collection, args.reader, tenant):
            fail(f"no reader phrase {args.reader!r} in {where}")
        print(f"docsdesk: removed {args.reader!r} ({where})")
    elif args.action == "import":
        counts = await import_terms(engine, collection, rows or [], tenant, replace=args.replace)
        print(f"docsdesk: imported {args.file} into {where}: {counts.describe()}")
    elif args.action == "export":
        sys.stdout.write(to_file(await list_terms(engine, collection, tenant)))
    else:
        _print(await list_terms(engine, collection, tenant), where, collection)


def _print(rows: list[ReaderTerm], where: str, collection: str) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not rows:
        print(
            f"docsdesk: no reader terms in {where} (add one: docsdesk terms add PHRASE TERMS --collection {collection})"
        )
        return
    table = Table("reader", "docs", "updated", title=Text(f"reader terms of {where}"))
    for row in rows:
        when = row.updated_at.astimezone().strftime("%Y-%m-%d %H:%M") if row.updated_at else "-"
        table.add_row(Text(row.reader), Text(", ".join(row.docs)), when)  # never read as markup
    Console(width=200).print(table)
