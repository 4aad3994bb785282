"""Shared fixtures: one real PostgreSQL per test session (embedded unless
DOCSDESK_TEST_DATABASE_URL names one), migrated once; tests isolate themselves by
using fresh user/tenant ids and collection names rather than fresh databases."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from docsdesk.core.database import Database, open_database
from docsdesk.core.settings import Settings
from tests.support import LiveServer

_PRIVATE_BASETEMP = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # As root, embedded PostgreSQL runs as its own system user, which must traverse the tests'
    # temporary directories (it opens their parents to others). pytest's shared root
    # (/tmp/pytest-of-root) is reset to 0700 whenever another session starts, which would lock
    # that user out of this session's servers: as root, a private base directory per session.
    if os.geteuid() == 0 and config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="docsdesk-pytest-")
        config.stash[_PRIVATE_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    private = config.stash.get(_PRIVATE_BASETEMP, None)
    if private is not None:
        shutil.rmtree(private, ignore_errors=True)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    # Not under pytest's own temporary root: pytest makes that 0700 at every session start,
    # which would lock the embedded server's system user out of a running session's data.
    data_dir = Path(tempfile.mkdtemp(prefix="docsdesk-test-data-"))
    yield Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=os.environ.get("DOCSDESK_TEST_DATABASE_URL"),
        secret_key="test-secret-key-0123456789abcdef0123456789",
        model="offline",
        embeddings="none",
        # No in-process job worker in every app the tests start (its shutdown takes a moment):
        # the tests of jobs start one where they need it.
        worker=False,
    )
    shutil.rmtree(data_dir, ignore_errors=True)


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


@pytest.fixture
async def live_app(settings):
    """(url, app) of the full docsdesk app served over real HTTP."""
    from app import create_app

    app = create_app(settings)
    async with LiveServer(app) as live:
        yield live.url, app


@pytest.fixture
def browser():
    """A headless Chromium session (selenium). Without Chromium the test is skipped, naming the
    install command; it fails instead under DOCSDESK_REQUIRE_SYSTEM_TESTS=1 (as in .ci/run)."""
    from tests.support.browser import chromium

    with chromium() as session:
        yield session
