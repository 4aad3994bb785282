"""The `docsdesk` command: serve, migrate, ingest, search."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from database import DatabaseUnavailable, EmbeddedPostgres, current_revision, open_database
from settings import Settings, get_settings


def fail(message: str) -> None:
    print(f"docsdesk: error: {message}", file=sys.stderr)
    raise SystemExit(1)


# --- serve ------------------------------------------------------------------------------


async def _prepare_serving(settings: Settings, args: argparse.Namespace) -> EmbeddedPostgres | None:
    """Open (and migrate) the database, ingest the docs to serve, keep the embedded server
    running for the workers; return its handle (None with DATABASE_URL)."""
    from rag.embeddings import build_embedder
    from rag.ingest import collection_document_count, ingest

    db = await open_database(settings)
    try:
        embedder = build_embedder(settings.embeddings, settings)
        if args.docs:
            if not args.base_url:
                fail("--docs needs --base-url (the URL the docs are published at)")
            summary = await ingest(
                db.engine, [Path(p) for p in args.docs], base_url=args.base_url,
                collection=settings.collection, url_style=args.url_style,
                embedder=embedder, progress=sys.stderr.isatty(),
            )
            print(f"docsdesk: docs indexed: {summary}", file=sys.stderr)
        elif await collection_document_count(db.engine, settings.collection) == 0:
            from app import OWN_DOCS

            readme = OWN_DOCS["README.md"]
            own = [p for p in (readme, readme.parent / "docs") if p.exists()]
            base = args.base_url or f"http://{args.host}:{args.port}/about/"
            summary = await ingest(
                db.engine, own, base_url=base, collection=settings.collection,
                url_style="plain", embedder=embedder, progress=False,
            )
            print(f"docsdesk: no docs given; indexed docsdesk's own docs ({summary})", file=sys.stderr)
    finally:
        await db.engine.dispose()
    return db.embedded


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from metrics import multiprocess_metrics
    from observability import uvicorn_log_config

    settings = get_settings()
    embedded = asyncio.run(_prepare_serving(settings, args))
    if embedded is not None:
        # Workers attach to the server this process keeps running, and it stops it at the end.
        os.environ["DATABASE_URL"] = embedded.url
        get_settings.cache_clear()
    # After a graceful shutdown, uvicorn re-raises the signal that stopped it, which by
    # default kills the process before the `finally` below: make that re-raise a no-op.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    try:
        with multiprocess_metrics(args.workers):  # workers share one metrics directory
            uvicorn.run(
                "app:create_app",
                factory=True,
                host=args.host,
                port=args.port,
                workers=args.workers,
                timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
                log_level=settings.log_level.lower(),
                log_config=uvicorn_log_config(settings),
                access_log=False,  # docsdesk writes its own access line per request
                proxy_headers=False,  # the client IP follows DOCSDESK_TRUSTED_PROXIES
            )
    finally:
        if embedded is not None:
            embedded.stop()


# --- migrate ----------------------------------------------------------------------------


async def _migrate(settings: Settings) -> str | None:
    db = await open_database(settings)
    try:
        return await current_revision(db.engine)
    finally:
        await db.close()


def cmd_migrate(args: argparse.Namespace) -> None:
    revision = asyncio.run(_migrate(get_settings()))
    print(f"docsdesk: database schema at revision {revision}")


def build_parser() -> argparse.ArgumentParser:
    from rag.cli import register as register_docs_commands

    parser = argparse.ArgumentParser(prog="docsdesk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the ChatKit server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--docs", nargs="+", metavar="PATH", help="documentation to index before serving")
    serve.add_argument("--base-url", help="where the docs are published (with --docs)")
    serve.add_argument("--url-style", choices=["mkdocs", "docusaurus", "plain"], default="mkdocs")
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=cmd_migrate)

    register_docs_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except DatabaseUnavailable as exc:
        fail(str(exc))
    except ValueError as exc:  # configuration errors (settings, auth mode, model spec)
        fail(str(exc))


if __name__ == "__main__":
    main()
