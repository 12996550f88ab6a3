"""``python -m tripline_ops.audit`` as an operator runs it, and the read-only connections it reads through."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tripline_ops.audit.snapshot import DatabaseUnreadable, read_only_snapshot

from .ordinary_day import OrdinaryDay
from .world import SERVICES, Seats, World

# Variables of the caller's own environment that would change what the audit reads or tolerates.
AUDIT_VARIABLES = {f"{s.upper()}_DATABASE_URL" for s in SERVICES} | {
    "HOLD_GRACE_SECONDS",
    "HOLD_SWEEP_SECONDS",
    "BOOKING_STEP_TIMEOUT_SECONDS",
}


def run_audit(urls: dict[str, str], *options: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in AUDIT_VARIABLES}
    env |= {f"{service.upper()}_DATABASE_URL": url for service, url in urls.items()} | extra
    return subprocess.run(
        [sys.executable, "-m", "tripline_ops.audit", *options], env=env, capture_output=True, text=True, timeout=120
    )


def test_a_consistent_platform_exits_0_with_audit_passed(world: World, day: OrdinaryDay) -> None:
    result = run_audit(world.urls)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("audit of inventory, payments and bookings")
    assert "customers: 3" in lines
    assert lines[-1] == "audit passed"


def test_on_a_quiet_platform_a_refund_still_missing_just_after_the_end_is_named(world: World, day: OrdinaryDay) -> None:
    ended = world.book("meera", "failed", seats=Seats(day.schedule, ["3A"]), paid=False, changed=timedelta(seconds=5))
    world.debit(ended, "meera", 1_500)

    assert run_audit(world.urls).returncode == 0  # busy: the refund may be on its way
    quiet = run_audit(world.urls, "--quiet")

    assert quiet.returncode == 1, quiet.stderr
    assert f"       booking {ended}: failed: refunded 0 of 1500 debited; expected 1500" in quiet.stdout.splitlines()


def test_a_violation_exits_1_with_its_lines(world: World, day: OrdinaryDay) -> None:
    world.sql(
        "inventory",
        "UPDATE seats SET status = 'free', hold_id = NULL WHERE schedule_id = %s AND seat_no = '1B'",
        day.schedule.id,
    )
    world.sql("inventory", "UPDATE schedules SET available_seats = available_seats + 1 WHERE id = %s", day.schedule.id)

    result = run_audit(world.urls)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[lines.index(next(line for line in lines if line.startswith("FAIL sold_seats"))) + 1] == (
        f"       schedule {day.schedule.id} seat 1B: booking {day.confirmed} (confirmed) has it;"
        " expected sold under that booking, found free"
    )
    assert lines[-1] == "audit FAILED: 1 violation(s) of 1 invariant(s)"


def test_a_missing_url_exits_2_naming_the_variable(world: World) -> None:
    urls = {service: url for service, url in world.urls.items() if service != "bookings"}

    result = run_audit(urls)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "BOOKINGS_DATABASE_URL not set" in result.stderr


def test_an_unreachable_database_exits_2_without_its_password(world: World) -> None:
    nowhere = "postgresql://tripline_payments:s3cret-password@127.0.0.1:1/tripline_payments"

    result = run_audit(world.urls | {"payments": nowhere})

    assert result.returncode == 2
    assert "cannot read the payments database at postgresql://tripline_payments:***@127.0.0.1:1/" in result.stderr
    assert "s3cret-password" not in result.stderr


def test_a_malformed_rule_exits_2_naming_the_variable(world: World) -> None:
    result = run_audit(world.urls, HOLD_GRACE_SECONDS="soon")

    assert result.returncode == 2
    assert "HOLD_GRACE_SECONDS must be a number of seconds" in result.stderr


# Read-only -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_the_audit_reads_a_repeatable_read_read_only_snapshot(world: World, service: str) -> None:
    with read_only_snapshot(service, world.urls[service]) as connection:
        settings = connection.execute(
            text(
                "SELECT current_setting('application_name'), current_setting('transaction_isolation'),"
                " current_setting('transaction_read_only')"
            )
        ).one()

    assert tuple(settings) == ("tripline-audit", "repeatable read", "on")


def test_a_write_through_the_audits_connection_fails(world: World, day: OrdinaryDay) -> None:
    refused_update = text("UPDATE bookings SET status = 'cancelled' WHERE id = :id")
    with (
        pytest.raises(DatabaseUnreadable) as refused,
        read_only_snapshot("bookings", world.urls["bookings"]) as connection,
    ):
        connection.execute(refused_update, {"id": day.confirmed})

    assert isinstance(refused.value.__cause__.orig, psycopg.errors.ReadOnlySqlTransaction)  # type: ignore[union-attr]
    assert world.sql("bookings", "SELECT status FROM bookings WHERE id = %s", day.confirmed) == [("confirmed",)]


def test_a_write_after_the_snapshot_ends_is_refused_too(world: World) -> None:
    # The session itself is read-only, not only the snapshot's transaction.
    with read_only_snapshot("payments", world.urls["payments"]) as connection:
        connection.execute(text("COMMIT"))
        with pytest.raises(DBAPIError, match="read-only transaction"):
            connection.execute(text("CREATE TABLE audit_was_here (id uuid)"))
    assert world.sql("payments", "SELECT to_regclass('audit_was_here')") == [(None,)]
