from __future__ import annotations

import pytest

from tests.chatkit_store.sdk_contract import harness


@pytest.fixture(scope="session")
async def sdk_contract_database(database, settings):
    engine, name = await harness.create(database.engine, settings)
    yield engine
    await harness.drop(database.engine, name)


@pytest.fixture(autouse=True)
async def _empty_store(sdk_contract_database):
    """Every SDK test starts from an empty store, as with the SDK's fresh SQLite database."""
    await harness.empty()
