"""Start-up and shutdown: the database, the store, identity, search and the ChatKit server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from chatkit_server import DocsDeskServer, build_assistants
from chatkit_store import PostgresStore
from chatkit_store.attachments import AttachmentFiles
from chatkit_store.attachments.cleanup import run_periodically
from docsdesk.core.database import open_database
from docsdesk.core.secret import server_secret
from docsdesk.core.settings import Settings
from docsdesk.handoff.config import HandoffConfigs
from docsdesk.handoff.desk import HandoffDesk
from docsdesk.http.auth import Authenticator
from docsdesk.http.deps import Services
from docsdesk.insights.retention import retention_loop
from docsdesk.insights.turns import TurnRecorder
from docsdesk.mcp.service import mcp_service
from docsdesk.ops.metrics import operating
from docsdesk.ops.observability import configure_logging
from rag.embeddings import build_embedder
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
        assistants = build_assistants(settings, search)
        handoff = HandoffDesk(database.engine, store, HandoffConfigs())
        server = DocsDeskServer(
            store, search, settings, assistants, attachments=attachments, recorder=recorder, handoff=handoff
        )
        background = [asyncio.create_task(run_periodically(attachments))]
        if settings.retention_days is not None:
            background.append(asyncio.create_task(retention_loop(database.engine, settings.retention_days)))
        log.debug("docsdesk started (model: %s, auth: %s)", settings.resolved_model, settings.auth_mode)
        try:
            async with mcp_service(settings, database.engine, search, assistants, recorder) as mcp:
                yield Services(
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
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await recorder.stop()
            await authenticator.aclose()
    finally:
        await database.close()


def lifespan_for(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        async with services(settings) as svc, operating(settings, svc.database.engine):
            app.state.services = svc
            yield

    return lifespan
