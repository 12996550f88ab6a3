"""Which database errors say "out of reach, retry soon" (a 503) rather than "this statement failed" (a 500)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors
from sqlalchemy.exc import OperationalError as WrappedOperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tripline.db import is_database_unreachable


def wrapped(error: Exception) -> WrappedOperationalError:
    """As SQLAlchemy raises a driver's error."""
    return WrappedOperationalError("SELECT 1", {}, error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused"),
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.CannotConnectNow("the database system is starting up"),
        errors.TooManyConnections("sorry, too many clients already"),
        errors.ObjectNotInPrerequisiteState('database "bookings" is not currently accepting connections'),
        errors.ReadOnlySqlTransaction("cannot execute UPDATE in a read-only transaction"),
        errors.ConnectionFailure("connection failure"),
        PoolTimeout("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_database_out_of_reach_is_unreachable_raw_or_wrapped(error: Exception) -> None:
    assert is_database_unreachable(error)
    if isinstance(error, psycopg.Error):
        assert is_database_unreachable(wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        errors.DeadlockDetected("deadlock detected"),
        errors.SerializationFailure("could not serialize access"),
        errors.LockNotAvailable("could not obtain lock"),
        errors.InvalidPassword("password authentication failed"),
        errors.QueryCanceled("canceling statement due to statement timeout"),
        errors.UniqueViolation("duplicate key value"),
        RuntimeError("a bug"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_failed_statement_or_a_wrong_password_is_not(error: Exception) -> None:
    assert not is_database_unreachable(error)
    if isinstance(error, psycopg.Error):
        assert not is_database_unreachable(wrapped(error))
