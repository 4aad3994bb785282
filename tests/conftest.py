"""Shared fixtures: one real PostgreSQL per test session (embedded unless
DOCSDESK_TEST_DATABASE_URL names one), migrated once; tests isolate themselves by
using fresh user/tenant ids and collection names rather than fresh databases."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from database import Database, open_database
from settings import Settings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory) -> Settings:
    data_dir = tmp_path_factory.mktemp("docsdesk-data")
    return Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=os.environ.get("DOCSDESK_TEST_DATABASE_URL"),
        secret_key="test-secret-key-0123456789abcdef0123456789",
        model="offline",
        embeddings="none",
    )


@pytest.fixture(scope="session")
async def database(base_settings) -> Database:
    db = await open_database(base_settings)
    yield db
    await db.close()


@pytest.fixture(scope="session")
def settings(base_settings, database) -> Settings:
    """Settings pointing at the session database (so apps attach to it, not start one)."""
    return base_settings.model_copy(update={"database_url": database.url})


@pytest.fixture
def engine(database):
    return database.engine


def write_pages(root: Path, pages: dict[str, str]) -> Path:
    """Write {relative path: text} under `root`; return `root`."""
    for name, body in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return root


def new_id(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class LiveServer:
    """A real uvicorn server for an app, on a free loopback port, in this event loop."""

    def __init__(self, app) -> None:
        import uvicorn

        self.config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
            proxy_headers=False,  # as `docsdesk serve`: client IPs follow DOCSDESK_TRUSTED_PROXIES
        )
        self.server = uvicorn.Server(self.config)
        self.task = None
        self.url = ""

    async def __aenter__(self) -> LiveServer:
        import asyncio

        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # start-up failed: raise its error
            await asyncio.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.should_exit = True
        await self.task


@pytest.fixture
async def live_app(settings):
    """(url, app) of the full docsdesk app served over real HTTP."""
    from app import create_app

    app = create_app(settings)
    async with LiveServer(app) as live:
        yield live.url, app
