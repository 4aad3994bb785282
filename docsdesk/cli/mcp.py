"""`docsdesk mcp` (the MCP tools over stdio, for a local IDE) and `docsdesk keys` (API keys for
`/mcp` and llms.txt). Heavy modules are imported when a command runs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from docsdesk.cli.common import fail, say, settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from docsdesk.core.settings import Settings


def register(subparsers: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    mcp = subparsers.add_parser(
        "mcp",
        help="serve the docs to a local coding agent over MCP (stdio)",
        formatter_class=formatter,
        description="Run the MCP tools (search_docs, fetch_page, list_collections) over stdin/stdout "
        "for an IDE or agent that starts this command; reads the configured database. Over HTTP, "
        "`docsdesk serve` answers the same tools at /mcp.",
    )
    mcp.add_argument(
        "--assistant",
        default="default",
        help="which assistant's docs to serve (by name; the default one when not given)",
    )
    mcp.set_defaults(func=run_mcp)

    keys = subparsers.add_parser(
        "keys",
        help="create, list or revoke API keys for /mcp and llms.txt",
        formatter_class=formatter,
        description="API keys for an assistant's MCP endpoint and llms.txt, sent as "
        "`Authorization: Bearer <key>`. Stored hashed: `create` shows the key once, alone on "
        "the last line of its output.",
    )
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a key (printed once)", formatter_class=formatter)
    create.add_argument(
        "--assistant",
        default="default",
        help="the assistant whose docs the key reads (by name; the default one when not given)",
    )
    create.add_argument("--expires", help="when it stops working: 30d, 12h, 90m, 2w or an ISO date")
    create.add_argument("--label", help="a note for `keys list` (who or what uses it)")
    create.set_defaults(func=run_keys)
    listing = actions.add_parser(
        "list", help="list the keys (never the keys themselves)", formatter_class=formatter
    )
    listing.add_argument("--assistant", help="only this assistant's keys")
    listing.set_defaults(func=run_keys)
    revoke = actions.add_parser("revoke", help="revoke a key at once, everywhere", formatter_class=formatter)
    revoke.add_argument("id", help="the key's id (k_..., from `keys list`)")
    revoke.set_defaults(func=run_keys)


# --- docsdesk mcp ---------------------------------------------------------------------------


def run_mcp(args: argparse.Namespace) -> None:
    asyncio.run(_serve_stdio(args.assistant))


async def _serve_stdio(assistant: str) -> None:
    from docsdesk.core.database import open_database
    from docsdesk.insights.turns import TurnRecorder
    from docsdesk.mcp.assistants import McpAssistants
    from docsdesk.mcp.server import build_server
    from docsdesk.mcp.tools import DocsTools, Principal
    from docsdesk.ops.observability import hash_user, log_salt
    from rag.embeddings import build_embedder
    from rag.search import DocsSearch

    config = settings()
    db = await open_database(config)
    try:
        assistants = McpAssistants.from_settings(config, db.engine)
        chosen = assistants.get(assistant)
        if chosen is None:
            fail(f"no assistant named {assistant!r} (known: {', '.join(assistants.names())})")
            return
        embedder = build_embedder(config.embeddings, config)
        search = DocsSearch(db.engine, embedder, public_url=config.public_url or "http://127.0.0.1:8000")
        recorder = TurnRecorder(db.engine, enabled=config.record_turns)
        recorder.start()
        try:
            tools = DocsTools(db.engine, search, assistants, recorder)
            who = hash_user(log_salt(config), f"mcp-stdio:{assistant}")
            collections = await chosen.collections()
            say(f"MCP over stdio: assistant '{assistant}' ({', '.join(collections)})")
            await build_server(tools, principal=Principal(assistant, None, who)).run_stdio_async()
        finally:
            await recorder.stop()
    finally:
        await db.close()


# --- docsdesk keys --------------------------------------------------------------------------


def run_keys(args: argparse.Namespace) -> None:
    asyncio.run(_keys(args))


async def _keys(args: argparse.Namespace) -> None:
    from docsdesk.core.database import open_database
    from docsdesk.mcp.keys import parse_expires

    config = settings()
    expires = None
    if args.action == "create" and args.expires:
        try:
            expires = parse_expires(args.expires)
        except ValueError as exc:
            fail(str(exc))
    db = await open_database(config)
    try:
        if args.action == "create":
            await _create(db.engine, config, args.assistant, args.label or "", expires)
        elif args.action == "list":
            await _list(db.engine, args.assistant)
        else:
            await _revoke(db.engine, args.id)
    finally:
        await db.close()


async def _create(
    engine: AsyncEngine, config: Settings, assistant: str, label: str, expires: datetime | None
) -> None:
    from docsdesk.mcp.assistants import McpAssistants
    from docsdesk.mcp.keys import create_key

    known = McpAssistants.from_settings(config, engine)
    if known.get(assistant) is None:
        fail(f"no assistant named {assistant!r} (known: {', '.join(known.names())})")
    if len(label) > 200:
        fail("--label: at most 200 characters")
    key, token = await create_key(engine, assistant, label=label, expires_at=expires)
    until = f"expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "does not expire"
    print(f"docsdesk: created key {key.id} for assistant '{assistant}' ({until})")
    print("docsdesk: send it as `Authorization: Bearer <key>`; it is shown only this once:")
    print(token)
    sys.stdout.flush()


async def _list(engine: AsyncEngine, assistant: str | None) -> None:
    from datetime import UTC

    from rich.console import Console
    from rich.table import Table

    from docsdesk.mcp.keys import list_keys

    keys = await list_keys(engine, assistant)
    if not keys:
        print("docsdesk: no API keys (create one with `docsdesk keys create --assistant NAME`)")
        return
    now = datetime.now(UTC)

    def when(moment: datetime | None) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"

    table = Table(
        "id", "key", "assistant", "label", "created", "expires", "last used", "status", title="API keys"
    )
    for key in keys:
        table.add_row(
            key.id,
            key.prefix + "…",
            key.assistant,
            key.label,
            when(key.created_at),
            when(key.expires_at),
            when(key.last_used_at),
            key.status(now),
        )
    Console(width=200).print(table)


async def _revoke(engine: AsyncEngine, key_id: str) -> None:
    from docsdesk.mcp.keys import revoke_key

    key = await revoke_key(engine, key_id)
    if key is None:
        fail(f"no key {key_id[:40]!r} (see `docsdesk keys list`)")
        return
    print(f"docsdesk: revoked key {key.id} of assistant '{key.assistant}'")
