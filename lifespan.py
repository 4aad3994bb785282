"""Start-up and shutdown: the database, the store, identity, search and the ChatKit server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from auth import Authenticator
from chatkit_server import DocsDeskServer
from chatkit_store import PostgresStore
from database import Database, open_database
from metrics import operating
from observability import configure_logging
from rag.embeddings import build_embedder
from rag.search import DocsSearch
from settings import Settings

log = logging.getLogger("docsdesk")


@dataclass
class Services:
    settings: Settings
    database: Database
    store: PostgresStore
    authenticator: Authenticator
    search: DocsSearch
    server: DocsDeskServer


@asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    authenticator = Authenticator(settings)  # rejects an incomplete auth configuration early
    database = await open_database(settings)
    try:
        store = PostgresStore(database.engine)
        search = DocsSearch(database.engine, build_embedder(settings.embeddings, settings))
        await search.startup()
        await authenticator.startup()
        server = DocsDeskServer(store, search, settings)
        log.info("docsdesk ready (model: %s, auth: %s)", settings.resolved_model, settings.auth_mode)
        try:
            yield Services(settings, database, store, authenticator, search, server)
        finally:
            await authenticator.aclose()
    finally:
        await database.close()


def lifespan_for(settings: Settings):
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        async with services(settings) as svc, operating(settings, svc.database.engine):
            app.state.services = svc
            yield

    return lifespan
