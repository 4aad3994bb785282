"""The `docsdesk` command.

Only the standard library is imported at module level: `docsdesk --help` must be instant, and
each command imports what it uses (the ChatKit and Agents SDKs only when serving).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from typing import TYPE_CHECKING

from docsdesk import __version__
from docsdesk.cli.common import CommandError, fail, say, settings
from docsdesk.cli.terms import register as register_terms_commands  # standard library only
from docsdesk.core.settings_error import SettingsError

if TYPE_CHECKING:
    from docsdesk.core.database import Database
    from docsdesk.core.settings import Settings


# --- serve ------------------------------------------------------------------------------


def where_data_lives(config: Settings) -> str:
    from docsdesk.core.database import describe_location

    return describe_location(config)


def model_line(config: Settings) -> str:
    model = config.resolved_model
    if model == "offline":
        return "offline (built in: it quotes the documentation; set OPENAI_API_KEY for a language model)"
    return model


def allowed_origins_line(config: Settings) -> str:
    """The browser origins the reader API accepts, for the start-up narrative."""
    if config.cors_origins == ["*"]:
        return "any (DOCSDESK_CORS_ORIGINS=*; no credentials)"
    if not config.cors_origins:
        return "none besides this server's own pages (set DOCSDESK_CORS_ORIGINS=https://your.site)"
    return ", ".join(config.cors_origins)


def local_url_for(host: str, port: int) -> str:
    """The URL this machine reaches a server bound to host:port at (a wildcard address is
    reached on loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced, so a busy port is one
    clear error rather than a 'ready' followed by a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    sock.set_inheritable(True)
    return sock


def announce_when_ready(local_url: str, public_url: str, deadline_seconds: float = 300.0) -> None:
    """Print the ready line once the server answers /readyz (the socket is bound and the app
    started), from a daemon thread; say so if it never does."""

    def wait() -> None:
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{local_url}/readyz", timeout=2) as response:
                    if response.status == 200:
                        say(f"ready at {public_url}  (ChatKit endpoint: {public_url}/chatkit)")
                        return
            except OSError:
                pass
            time.sleep(0.05)
        say(f"the server did not become ready within {deadline_seconds:.0f} s; see the log above")

    threading.Thread(target=wait, name="docsdesk-ready", daemon=True).start()


def cmd_serve(args: argparse.Namespace) -> None:
    config = settings()  # every setting checked first: a mistake is one line, in well under a second
    from docsdesk.cli.resolve import deployment

    deployment(config, args)  # and the config file: a mistake is one line naming file, key and line
    # The SDKs take a few seconds to import: start now, while the database starts. Not a
    # daemon: a failure below waits for the import to finish rather than killing the thread
    # mid-import at exit (which aborts the interpreter).
    importer = threading.Thread(target=__import__, args=("app",), name="docsdesk-import")
    importer.start()
    say(f"{__version__}: data: {where_data_lives(config)}")
    say(f"allowed origins: {allowed_origins_line(config)}")
    sock = bind(args.host, args.port)
    from docsdesk.cli.serving import prepare_serving

    db = asyncio.run(prepare_serving(config, args))
    say(f"model: {model_line(config)}")
    local_url = local_url_for(args.host, args.port)
    public_url = config.public_url or local_url
    hand_to_workers(db, public_url, args)
    importer.join()
    announce_when_ready(local_url, public_url)
    try:
        run_server(config, args, sock)
    finally:
        sock.close()
        if db.embedded is not None:
            say("stopping the embedded PostgreSQL")
            db.embedded.stop()


def hand_to_workers(db: Database, public_url: str, args: argparse.Namespace) -> None:
    """What the workers (and this process, for uvicorn) must see: the embedded server this
    process keeps running, the public URL citations of own docs use, the config file."""
    from docsdesk.core.config_file import CONFIG_VARIABLE, find_config
    from docsdesk.core.settings import get_settings

    if db.embedded is not None:
        os.environ["DATABASE_URL"] = db.embedded.url
    os.environ["DOCSDESK_PUBLIC_URL"] = public_url
    os.environ["DOCSDESK_SKIP_MIGRATIONS"] = "1"  # migrated above, once
    if getattr(args, "no_worker", False):
        os.environ["DOCSDESK_WORKER"] = "0"  # the app runs no in-process job worker
    path = find_config(getattr(args, "config", None))
    if path is not None:
        os.environ[CONFIG_VARIABLE] = str(path)  # absolute: SIGHUP re-reads the same file
    get_settings.cache_clear()  # the app (in this process with one worker) reads them anew
    # After a graceful shutdown, uvicorn re-raises the signal that stopped it, which by
    # default kills the process before the `finally` below: make that re-raise a no-op.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)


def run_server(config: Settings, args: argparse.Namespace, sock: socket.socket) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from docsdesk.ops.metrics import multiprocess_metrics
    from docsdesk.ops.observability import uvicorn_log_config
    from docsdesk.ops.slowclients import guard_slow_clients

    with multiprocess_metrics(args.workers):  # workers share one metrics directory
        server_config = uvicorn.Config(
            "app:create_app",
            factory=True,
            workers=args.workers,
            timeout_graceful_shutdown=int(config.shutdown_grace_seconds),
            log_level=None,  # the levels are in log_config (uvicorn would override them)
            log_config=uvicorn_log_config(config),
            access_log=False,  # docsdesk writes its own access line per request
            proxy_headers=False,  # the client IP follows DOCSDESK_TRUSTED_PROXIES
        )
        # Keep-alive, header deadline and header size cap (slow clients), at the protocol.
        guard_slow_clients(server_config, config)
        if args.workers > 1:
            Multiprocess(server_config, sockets=[sock]).run()  # SIGHUP restarts the workers
        else:
            uvicorn.Server(server_config).run(sockets=[sock])


# --- migrate ----------------------------------------------------------------------------


async def _migrate(config: Settings) -> str | None:
    from docsdesk.core.database import current_revision, open_database

    db = await open_database(config)
    try:
        return await current_revision(db.engine)
    finally:
        await db.close()


def cmd_migrate(args: argparse.Namespace) -> None:
    revision = asyncio.run(_migrate(settings()))
    print(f"docsdesk: database schema at revision {revision}")


# --- the parser ---------------------------------------------------------------------------


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help shows its default, once: not when there is none (None, a flag's
    False) and not when the help already says what it is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from docsdesk.cli.config import register as register_config_commands
    from docsdesk.cli.insights import register as register_insights_commands
    from docsdesk.cli.jobs import register as register_jobs_commands
    from docsdesk.cli.mcp import register as register_mcp_commands
    from docsdesk.cli.search import add_exclude_argument
    from docsdesk.cli.search import register as register_docs_commands
    from docsdesk.cli.sources import register as register_sources_commands

    parser = argparse.ArgumentParser(
        prog="docsdesk",
        description="docsdesk: a self-hosted ChatKit backend for documentation assistants.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"docsdesk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the ChatKit server",
        formatter_class=HelpFormatter,
        description="Start the server: open (or start the embedded) PostgreSQL, apply migrations, "
        "index --docs (or docsdesk's own docs as a demo when none are indexed), then serve "
        "POST /chatkit.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    serve.add_argument("--docs", nargs="+", metavar="PATH", help="documentation to index before serving")
    serve.add_argument("--base-url", help="where the docs are published (with --docs)")
    serve.add_argument(
        "--url-style",
        choices=["mkdocs", "docusaurus", "plain"],
        default="mkdocs",
        help="how file paths map to published URLs",
    )
    add_exclude_argument(serve)
    serve.add_argument(
        "--assistant", metavar="NAME", help="index --docs into this assistant's first collection"
    )
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser(
        "migrate",
        help="apply database migrations",
        formatter_class=HelpFormatter,
        description="Upgrade the database schema to the latest revision (the server also does "
        "this at start-up) and print the revision.",
    )
    migrate.set_defaults(func=cmd_migrate)

    register_docs_commands(sub, HelpFormatter)
    register_sources_commands(sub, HelpFormatter)
    register_terms_commands(sub, HelpFormatter)
    register_jobs_commands(sub, HelpFormatter)
    register_insights_commands(sub, HelpFormatter)
    register_mcp_commands(sub, HelpFormatter)
    register_config_commands(sub, HelpFormatter)
    add_config_option(parser, sub)
    return parser


def add_config_option(parser: argparse.ArgumentParser, sub: argparse._SubParsersAction) -> None:
    """`--config FILE` before or after the command (`docsdesk --config x.toml serve`)."""
    help_ = "the assistants' config file (default: DOCSDESK_CONFIG, or ./docsdesk.toml if present)"
    parser.add_argument("--config", metavar="FILE", help=help_)
    parsers = list(sub.choices.values())
    while parsers:
        command = parsers.pop()
        command.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help=help_)
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers += list(action.choices.values())


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except SettingsError as exc:  # a setting the operator got wrong: one line each, exit 2
        for line in exc.lines:
            print(f"docsdesk: error: {line}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        say("interrupted")
        raise SystemExit(130) from None
    except Exception as exc:
        message = expected_failure(exc)
        if message is None:
            raise
        print(f"docsdesk: error: {message}", file=sys.stderr)
        raise SystemExit(1) from None


def expected_failure(exc: BaseException) -> str | None:
    """The one line to print for a failure the user can act on; None for a bug."""
    if isinstance(exc, CommandError):
        return str(exc)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {
        "DatabaseUnavailable",
        "IngestError",
        "EmbeddingError",
        "EmbedderMismatch",
        "QuestionSetError",
    }:
        return _first_line(exc)
    if "SQLAlchemyError" in names:
        return f"database: {_first_line(getattr(exc, 'orig', None) or exc)}"
    if isinstance(exc, ValueError):  # invalid settings: pydantic names the field
        lines = [line.split(" [type=")[0].strip() for line in str(exc).strip().splitlines()[:3]]
        return "; ".join(lines) or type(exc).__name__
    return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


if __name__ == "__main__":
    main()
