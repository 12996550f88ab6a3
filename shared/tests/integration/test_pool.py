"""The pool pings a connection only after it sat idle: one cut by the server while idle is replaced before use; one
cut moments after it was used fails its next statement as an unavailable database, and the pool starts afresh."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from tripline.db import (
    is_database_unreachable,
    is_transient,
    libpq_url,
    make_async_engine,
    make_engine,
    make_session_factory,
)


@pytest.fixture
def engines(database_url: str) -> Iterator[list[Engine]]:
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def _engine(engines: list[Engine], database_url: str, ping_after_idle: float) -> Engine:
    engine = make_engine(database_url, application_name="pool-tests", pool_size=1, ping_after_idle=ping_after_idle)
    engines.append(engine)
    return engine


def _backend(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _cut(engine: Engine | AsyncEngine, backend: int) -> None:
    """The server ends the pooled connection's session, as a restart or an operator would."""
    with psycopg.connect(libpq_url(engine), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (backend,))


def test_a_connection_cut_while_idle_is_replaced_before_it_is_used(engines: list[Engine], database_url: str) -> None:
    engine = _engine(engines, database_url, ping_after_idle=0.0)  # every connection counts as idle
    cut = _backend(engine)
    _cut(engine, cut)

    assert _backend(engine) != cut  # answered, on a new connection


def test_a_connection_used_moments_ago_is_not_pinged_so_a_cut_fails_once(
    engines: list[Engine], database_url: str
) -> None:
    engine = _engine(engines, database_url, ping_after_idle=3_600.0)  # never idle long enough to be pinged
    cut = _backend(engine)
    _cut(engine, cut)

    with pytest.raises(OperationalError) as failed:
        _backend(engine)
    assert is_database_unreachable(failed.value)  # the web answers 503 with Retry-After
    assert is_transient(failed.value)  # a worker delivers the message again
    assert _backend(engine) != cut  # the next use gets a new connection


async def test_the_relays_async_pool_too_replaces_a_connection_cut_while_idle(database_url: str) -> None:
    engine = make_async_engine(database_url, application_name="pool-tests", pool_size=1, ping_after_idle=0.0)
    backend = "SELECT pg_backend_pid()"
    try:
        async with engine.connect() as connection:
            cut = int((await connection.execute(text(backend))).scalar_one())
        _cut(engine, cut)

        async with engine.connect() as connection:
            assert int((await connection.execute(text(backend))).scalar_one()) != cut
    finally:
        await engine.dispose()
