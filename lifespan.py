"""Start-up and shutdown: the database, the store, identity, search and the ChatKit server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from chatkit_server import DocsDeskServer, build_assistants
from chatkit_store import PostgresStore
from chatkit_store.attachments import AttachmentFiles
from chatkit_store.attachments.cleanup import run_periodically
from docsdesk.assistant.definition import AssistantRegistry, Assistants
from docsdesk.core.config_file import DeploymentConfig, load_config
from docsdesk.core.database import open_database
from docsdesk.core.secret import server_secret
from docsdesk.core.settings import Settings
from docsdesk.handoff.config import HandoffConfigs, config_from_table
from docsdesk.handoff.desk import HandoffDesk
from docsdesk.http.auth import Authenticator
from docsdesk.http.deps import Services
from docsdesk.insights.retention import retention_loop, retention_plan
from docsdesk.insights.turns import TurnRecorder
from docsdesk.mcp.service import mcp_service
from docsdesk.ops.metrics import operating
from docsdesk.ops.observability import configure_logging
from rag.collections import missing_collections, unknown_collection_message
from rag.embeddings import Embedder, build_embedder
from rag.search import DocsSearch

log = logging.getLogger("docsdesk")

# Own-docs links when neither DOCSDESK_PUBLIC_URL nor `docsdesk serve` says where we are.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


@asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    authenticator = Authenticator(settings)  # rejects an incomplete auth configuration early
    database = await open_database(settings)
    try:
        store = PostgresStore(database.engine)
        search = DocsSearch(
            database.engine,
            build_embedder(settings.embeddings, settings),
            public_url=settings.public_url or DEFAULT_PUBLIC_URL,
        )
        await search.startup()
        await authenticator.startup()
        secret = await asyncio.to_thread(server_secret, settings)
        attachments = AttachmentFiles(
            database.engine, store, settings, secret, settings.public_url or DEFAULT_PUBLIC_URL
        )
        await attachments.startup()
        recorder = TurnRecorder(database.engine, enabled=settings.record_turns)
        recorder.start()
        assistants = build_assistants(settings, search, load_config(settings))
        handoff = HandoffDesk(database.engine, store, handoff_configs(assistants))
        server = DocsDeskServer(
            store, search, settings, assistants, attachments=attachments, recorder=recorder, handoff=handoff
        )
        background = background_tasks(settings, database.engine, attachments, assistants, search)
        log.debug("docsdesk started (model: %s, auth: %s)", settings.resolved_model, settings.auth_mode)
        try:
            async with mcp_service(settings, database.engine, search, assistants, recorder) as mcp:
                svc = Services(
                    settings,
                    database,
                    store,
                    authenticator,
                    search,
                    server,
                    attachments,
                    recorder,
                    assistants,
                    mcp,
                )
                svc.reload = lambda: reload_assistants(svc, handoff)
                freeze_startup_objects()
                yield svc
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await recorder.stop()
            await authenticator.aclose()
    finally:
        await database.close()


def background_tasks(
    settings: Settings,
    engine: AsyncEngine,
    attachments: AttachmentFiles,
    assistants: Assistants,
    search: DocsSearch,
) -> list[asyncio.Task[Any]]:
    """What runs beside the requests: attachment clean-up, retention (per assistant, read each
    round so it follows reloads) and, unless `--no-worker`, the in-process job worker."""
    background = [asyncio.create_task(run_periodically(attachments))]
    if settings.retention_days is not None or settings.config_file is not None:
        plan = lambda: retention_plan(  # noqa: E731 - read each round: follows reloads
            {n: assistants.get(n).retention_days for n in assistants.names()}, settings.retention_days
        )
        background.append(asyncio.create_task(retention_loop(engine, plan)))
    if settings.worker:
        background.append(asyncio.create_task(in_process_worker(settings, engine, search.embedder)))
    return background


_frozen = False


def freeze_startup_objects() -> None:
    """Everything built at start-up (the SDKs' modules and schemas, the assistants) lives as
    long as the process: move it out of the cyclic GC's reach (`gc.freeze`), whose full
    collections otherwise cost more with every live object, so with every configured
    assistant (bench/turns.py --assistants 20: 1.09x a turn's cost without it, 1.04x with).
    Once per process: an app started again in the same process (tests) is not frozen."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def handoff_configs(assistants: Assistants) -> HandoffConfigs:
    """Each assistant's `[assistants.NAME.handoff]` table; the default assistant without one
    reads the DOCSDESK_HANDOFF_* variables."""
    configs = HandoffConfigs()
    for name in assistants.names():
        table = assistants.get(name).handoff
        if table:
            configs.configure(name, config_from_table(name, dict(table)))
    return configs


async def in_process_worker(settings: Settings, engine: AsyncEngine, embedder: Embedder | None) -> None:
    """`docsdesk serve`'s own worker (docsdesk.jobs.worker): cancelled at shutdown, its running
    job is then picked again by a worker that lives on."""
    from docsdesk.jobs.worker import run_until_cancelled

    await run_until_cancelled(engine, settings.data_dir / "sources", embedder)


async def reload_assistants(svc: Services, handoff: HandoffDesk | None = None) -> DeploymentConfig:
    """Read the config file again and swap the assistants: turns already streaming keep the
    definition they started with, new ones get the new. A file that does not validate, names
    a model that cannot be built or a collection with no documents is refused (SettingsError
    or ValueError, one line each) and the current assistants stay."""
    config = await asyncio.to_thread(load_config, svc.settings)
    if config.path is not None:
        wanted = list(dict.fromkeys(c for a in config.assistants for c in a.collections))
        missing, existing = await missing_collections(svc.database.engine, wanted)
        if missing:
            raise ValueError(f"{config.path}: {unknown_collection_message(missing, existing)}")
    fresh = build_assistants(svc.settings, svc.search, config)
    configs = handoff_configs(fresh)  # a bad [assistants.NAME.handoff] table refuses the reload
    if handoff is not None:
        handoff.configs = configs
    cast(AssistantRegistry, svc.assistants).replace_all(
        [fresh.get(name) for name in fresh.names()], fresh.default
    )
    log.info("assistants reloaded from %s: %s", config.path or "the environment", ", ".join(fresh.names()))
    return config


@contextlib.contextmanager
def reload_on_sighup(svc: Services) -> Iterator[None]:
    """SIGHUP re-reads the config file (a single-process server; with several workers the
    main process restarts them, which reads it too). A bad file is logged and ignored."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[Any]] = set()

    async def reload() -> None:
        try:
            await (svc.reload() if svc.reload is not None else reload_assistants(svc))
        except (ValueError, OSError) as exc:
            log.error("config reload refused, keeping the current assistants: %s", exc)

    def on_sighup() -> None:
        task = loop.create_task(reload())
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


def lifespan_for(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        async with services(settings) as svc, operating(settings, svc.database.engine):
            app.state.services = svc
            with reload_on_sighup(svc):
                yield

    return lifespan
