"""Fixtures for the insights tests: an app with an admin token, turns recorded synchronously
enough to read back (the recorder is flushed), and a fresh collection per test."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from tests.support import FIXTURE_DOCS, LiveServer, new_id

ADMIN_TOKEN = "admin-token-0123456789abcdef"


@pytest.fixture
async def collection(engine):
    """A fresh collection with the fixture docs indexed."""
    from rag.ingest import ingest

    name = new_id("c")
    await ingest(
        engine,
        [FIXTURE_DOCS],
        base_url="https://docs.example.com/",
        collection=name,
        url_style="mkdocs",
        embedder=None,
    )
    return name


@pytest.fixture
async def admin_app(settings, collection):
    """(url, app) of the app with the admin API on, serving `collection`."""
    from app import create_app

    app = create_app(
        settings.model_copy(update={"admin_token": SecretStr(ADMIN_TOKEN), "collection": collection})
    )
    async with LiveServer(app) as live:
        yield live.url, app


def admin(url: str, token: str = ADMIN_TOKEN) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"})


async def flush(app) -> None:
    await app.state.services.recorder.flush()
