"""SQLAlchemy 2 + psycopg 3 engines, sessions and the unit-of-work base every service builds on."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import psycopg
import structlog
from sqlalchemy import Engine, MetaData, create_engine, event, func, select
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from tripline.timestamps import utcnow

log = structlog.get_logger(__name__)

# Constraint names are deterministic so Alembic migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# A pooled connection idle longer than this is pinged before it is used again; one returned moments ago is trusted
# (as HikariCP's aliveBypassWindowMs does, 500 ms): under load that saves a round trip per transaction. Should the
# server have cut it since, its first statement fails before anything is written, as an unavailable database does:
# every pooled connection is replaced, a web request is answered 503 (the client sends it again with its
# Idempotency-Key) and a message is delivered again.
PING_AFTER_IDLE_SECONDS = 0.5


def new_metadata() -> MetaData:
    """A MetaData with the project's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(
    url: str,
    *,
    application_name: str,
    pool_size: int = 5,
    max_overflow: int | None = None,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
) -> Engine:
    """A sync engine for web requests and worker handlers (run in threads); ``max_overflow`` defaults to
    ``pool_size`` more connections, opened when busy and closed when returned."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        # The connection returned last is taken first: under light load a few stay busy, and seldom need a ping.
        pool_use_lifo=True,
        connect_args=_connect_args(application_name),
    )
    _ping_when_idle(engine, ping_after_idle)
    return engine


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """``pool_pre_ping``, but only for a connection idle longer than ``seconds`` (``PING_AFTER_IDLE_SECONDS``).

    Under load nearly every checkout takes a connection returned a few milliseconds before, so this saves a round
    trip per transaction (a third of the saga's transactions were pings)."""

    @event.listens_for(engine, "checkin")
    def returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def taken(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        returned_at = record.info.get("returned_at")  # none yet: connected just now
        if returned_at is None or time.monotonic() - returned_at <= seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # As pool_pre_ping does: this and every other pooled connection are replaced, and the checkout
                # is tried again on a new one.
                raise InvalidatePoolError() from error
            raise


def make_async_engine(
    url: str, *, application_name: str, pool_size: int = 2, ping_after_idle: float = PING_AFTER_IDLE_SECONDS
) -> AsyncEngine:
    """An async engine (psycopg 3 async) for the worker's own asyncio loops, such as the outbox relay."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_use_lifo=True,
        connect_args=_connect_args(application_name),
    )
    _ping_when_idle(engine.sync_engine, ping_after_idle)
    return engine


def libpq_url(engine: Engine | AsyncEngine) -> str:
    """The engine's database as a plain libpq URL, for a connection of its own (``LISTEN``) outside the pool."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _connect_args(application_name: str) -> dict[str, str]:
    # Every statement sees UTC and a bounded lock wait, so a stuck row never hangs a request forever;
    # the application name tells operators which process holds a connection (pg_stat_activity).
    return {"application_name": application_name, "options": "-c timezone=UTC -c lock_timeout=10s"}


def database_now(session: Session) -> datetime:
    """The transaction's start time on the database's clock: the one clock deadlines are set and checked on, so web,
    worker and database clocks drifting apart cannot shorten or stretch them."""
    return session.execute(select(func.now())).scalar_one()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (handlers return them to views)."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads of one statement each, on the same pool: no ``BEGIN`` and ``ROLLBACK`` round trips around
    the statement. Under READ COMMITTED a statement sees its own snapshot inside a transaction too, so nothing is
    lost; never for writes, nor for reads that must agree with each other."""
    return make_session_factory(engine.execution_options(isolation_level="AUTOCOMMIT"))


class UnitOfWork:
    """One transaction: rolls back unless ``commit()`` was called inside the ``with`` block.

    Services subclass it to expose their repositories on top of ``self.session``.
    """

    def __init__(self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utcnow):
        self._session_factory = session_factory
        self.clock = clock
        self.session: Session
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self.session.begin()
        self._after_commit = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        """Commit everything done in this unit of work, outbox rows included, then run what waited for it."""
        self.session.commit()
        done, self._after_commit = self._after_commit, []
        for action in done:
            try:
                action()
            except Exception:
                # Committed is committed: a failing follow-up (a metric, say) must not pass for a failed effect.
                log.exception("after_commit_failed", action=getattr(action, "__qualname__", repr(action)))

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this unit of work has committed (never, if it rolls back).

        Registered inside a savepoint that is rolled back, it still runs at the commit: register it outside one."""
        self._after_commit.append(action)

    def rollback(self) -> None:
        """Discard whatever was not committed."""
        self.session.rollback()


def is_transient(error: BaseException) -> bool:
    """Errors that say the database is unavailable, not that the request, message or handler is wrong."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | psycopg.OperationalError | TimeoutError | ConnectionError)


# SQLSTATEs that say the server is out of reach rather than that the statement failed: connection exceptions
# (class 08), the server shutting down or cutting the session (57P01-57P03), too many connections (53300), a
# database not accepting connections (55000), a failover onto a read-only standby (25006).
UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "55000", "25006")


def is_database_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached now (worth a retry soon), not that a statement failed:
    a deadlock, a serialization failure or a wrong password is not this."""
    if isinstance(error, PoolTimeout):  # every pooled connection busy
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig or error
    if not isinstance(error, psycopg.Error):
        return False
    if error.sqlstate is None:
        # No SQLSTATE: the server never answered (the connection attempt refused, reset or timed out).
        return isinstance(error, psycopg.OperationalError)
    return error.sqlstate.startswith(UNREACHABLE_SQLSTATES)
