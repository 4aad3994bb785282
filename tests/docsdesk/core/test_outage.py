"""The one database-outage classifier, on failures raised by a real PostgreSQL: every layer
that answers a database failure (HTTP middleware and turn stream, admin API, start-up) agrees,
including on the case that used to differ, a statement timeout."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from docsdesk.core import outage
from docsdesk.core.database import DatabaseUnavailable, check_connection, create_engine
from docsdesk.core.errors import ApiError


async def statement_timeout(engine) -> BaseException:
    async with engine.connect() as conn:
        await conn.execute(text("SET statement_timeout = 50"))
        try:
            await conn.execute(text("SELECT pg_sleep(2)"))
        except DBAPIError as exc:
            return exc
    raise AssertionError("the statement was not cancelled")


async def bad_query(engine) -> BaseException:
    async with engine.connect() as conn:
        try:
            await conn.execute(text("SELECT * FROM no_such_table_here"))
        except DBAPIError as exc:
            return exc
    raise AssertionError("the query did not fail")


async def test_a_statement_timeout_is_an_outage_and_a_bad_query_is_not(engine):
    assert outage.outage_kind(await statement_timeout(engine)) == "statement_timeout"
    assert outage.outage_kind(await bad_query(engine)) is None


async def test_the_admin_api_and_the_http_layer_use_the_same_classifier(engine):
    from docsdesk.insights.admin import database_errors as _database
    from docsdesk.ops import observability
    from docsdesk.ops import outage as ops_outage

    assert ops_outage.outage_kind is outage.outage_kind
    assert observability.outage_kind is outage.outage_kind
    timeout = await statement_timeout(engine)
    with pytest.raises(ApiError) as answered:
        with _database():
            raise timeout
    assert answered.value.status == 503 and answered.value.headers["Retry-After"]
    assert answered.value.code == ops_outage.unavailable().code == "database_unavailable"
    failure = await bad_query(engine)
    with pytest.raises(DBAPIError):  # a bad query stays what it is: the caller's 500
        with _database():
            raise failure


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_start_up_failure_carries_its_kind(settings):
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/postgres"
    engine = create_engine(url, settings)
    try:
        with pytest.raises(DatabaseUnavailable) as failed:
            await check_connection(engine)
    finally:
        await engine.dispose()
    assert failed.value.kind == "connection_refused"
    assert outage.outage_kind(failed.value) == "connection_refused"
    assert outage.outage_kind(RuntimeError("wrapped")) is None
    assert outage.outage_kind(DatabaseUnavailable("cannot start the embedded server")) == "unreachable"
