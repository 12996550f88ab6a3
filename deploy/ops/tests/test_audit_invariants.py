"""Each invariant holds on an ordinary day, and each way of breaking one is named in the report.

The breaks are made the way a bug or a hand correction would make them: plain SQL behind the services' backs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from .ordinary_day import OrdinaryDay, audit, violations
from .world import Seats, World


def test_an_ordinary_day_passes(world: World, day: OrdinaryDay) -> None:
    report = audit(world)

    assert report.violations == []
    assert report.passed
    assert report.lines()[-1] == "audit passed"


def test_the_report_says_what_it_checked(world: World, day: OrdinaryDay) -> None:
    lines = audit(world).lines()

    assert (
        "bookings: 8 (reserved 1, payment_pending 1, confirmed 1, completed 1, cancelled 2, expired 1, failed 1)"
        in lines
    )
    assert "  tolerated while a step is under way: 1 in flight, 0 settling" in lines
    assert "seats sold: 3 on 1 schedule(s)" in lines
    assert "room nights sold: 2 rooms over 2 night(s) of 1 room type(s)" in lines
    assert "customers: 3" in lines
    assert "debits: 5 for 21000; refunds: 2 for 2250 (minor units)" in lines
    assert sum(line.startswith("ok   ") for line in lines) == 9


# Sold seats -----------------------------------------------------------------------------------------------------


def _sell(world: World, day: OrdinaryDay, seat: str, hold_id: uuid.UUID) -> None:
    """Sell a free seat, counted as inventory counts it."""
    world.sql(
        "inventory",
        "UPDATE seats SET status = 'sold', hold_id = %s WHERE schedule_id = %s AND seat_no = %s",
        hold_id,
        day.schedule.id,
        seat,
    )
    _count_seats(world, day, -1)


def _count_seats(world: World, day: OrdinaryDay, change: int) -> None:
    world.sql(
        "inventory",
        "UPDATE schedules SET available_seats = available_seats + %s WHERE id = %s",
        change,
        day.schedule.id,
    )


def test_a_seat_sold_to_a_cancelled_booking_is_named(world: World, day: OrdinaryDay) -> None:
    _sell(world, day, "3A", day.cancelled_before_payment)

    found = violations(world)

    assert found == {
        "sold_seats": [
            f"schedule {day.schedule.id} seat 3A: sold under booking {day.cancelled_before_payment} (cancelled);"
            " expected a confirmed or completed booking"
        ]
    }


def test_a_seat_sold_with_no_booking_is_named(world: World, day: OrdinaryDay) -> None:
    nobody = uuid.uuid4()
    world.sql(
        "inventory",
        "UPDATE seats SET status = 'sold', hold_id = %s WHERE schedule_id = %s AND seat_no = '3A'",
        nobody,
        day.schedule.id,
    )

    assert violations(world)["sold_seats"] == [
        f"schedule {day.schedule.id} seat 3A: sold under booking {nobody}, which bookings does not know"
    ]


def test_a_confirmed_bookings_free_seat_is_named(world: World, day: OrdinaryDay) -> None:
    world.sql(
        "inventory",
        "UPDATE seats SET status = 'free', hold_id = NULL WHERE schedule_id = %s AND seat_no = '1B'",
        day.schedule.id,
    )
    _count_seats(world, day, +1)

    assert violations(world) == {
        "sold_seats": [
            f"schedule {day.schedule.id} seat 1B: booking {day.confirmed} (confirmed) has it;"
            " expected sold under that booking, found free"
        ]
    }


def test_a_seat_count_that_does_not_match_the_free_seats_is_named(world: World, day: OrdinaryDay) -> None:
    _count_seats(world, day, +1)  # a release applied twice

    assert violations(world) == {"seat_counts": [f"schedule {day.schedule.id}: counts 4 seats available; 3 are free"]}


def test_a_seat_claimed_by_two_sold_bookings_is_named(world: World, day: OrdinaryDay) -> None:
    # The completed booking claims seat 1A as well, which inventory sold to the confirmed one.
    world.sql(
        "bookings",
        """UPDATE bookings SET items = jsonb_set(items, '{0,seats}', '["2A", "1A"]') WHERE id = %s""",
        day.completed,
    )

    assert violations(world)["sold_seats"] == [
        f"schedule {day.schedule.id} seat 1A: booking {day.completed} (completed) has it;"
        f" expected sold under that booking, found sold under booking {day.confirmed}"
    ]


def test_a_seat_sold_under_a_booking_that_does_not_name_it_is_named(world: World, day: OrdinaryDay) -> None:
    _sell(world, day, "3A", day.confirmed)

    assert violations(world)["sold_seats"] == [
        f"schedule {day.schedule.id} seat 3A: sold under booking {day.confirmed} (confirmed),"
        " whose items do not name it"
    ]


# Room nights ----------------------------------------------------------------------------------------------------


def test_a_room_night_oversold_against_bookings_is_named(world: World, day: OrdinaryDay) -> None:
    world.sql(
        "inventory",
        "UPDATE room_nights SET sold = sold + 1 WHERE room_type_id = %s AND night = %s",
        day.room_type.id,
        day.first_night,
    )

    assert violations(world) == {
        "sold_room_nights": [
            f"room type {day.room_type.id} night {day.first_night}: sold 2; confirmed and completed bookings hold 1"
        ]
    }


def test_a_confirmed_bookings_room_night_not_sold_is_named(world: World, day: OrdinaryDay) -> None:
    second = day.first_night + timedelta(days=1)
    world.sql(
        "inventory",
        "UPDATE room_nights SET sold = 0 WHERE room_type_id = %s AND night = %s",
        day.room_type.id,
        second,
    )

    assert violations(world)["sold_room_nights"] == [
        f"room type {day.room_type.id} night {second}: sold 0; confirmed and completed bookings hold 1"
    ]


# Held seats and rooms -------------------------------------------------------------------------------------------


def test_rooms_held_by_no_hold_are_named(world: World, day: OrdinaryDay) -> None:
    world.sql(
        "inventory",
        "UPDATE room_nights SET held = held + 2 WHERE room_type_id = %s AND night = %s",
        day.room_type.id,
        day.first_night,
    )

    assert violations(world) == {
        "held_inventory": [f"room type {day.room_type.id} night {day.first_night}: held 3; live holds account for 1"]
    }


def test_a_seat_held_under_a_released_hold_is_named(world: World, day: OrdinaryDay) -> None:
    world.sql(
        "inventory",
        "UPDATE seats SET status = 'held', hold_id = %s WHERE schedule_id = %s AND seat_no = '3A'",
        day.cancelled_before_payment,
        day.schedule.id,
    )

    assert violations(world)["held_inventory"] == [
        f"schedule {day.schedule.id} seat 3A: held under booking {day.cancelled_before_payment}, whose hold is released"
    ]


def test_a_hold_past_its_grace_is_named(world: World, day: OrdinaryDay) -> None:
    # The customer never paid, bookings never expired it, and inventory's sweeper never lapsed the hold either.
    world.sql(
        "inventory",
        "UPDATE holds SET expires_at = now() - interval '1 hour' WHERE booking_id = %s",
        day.reserved,
    )

    (finding,) = violations(world)["held_inventory"]
    assert finding.startswith(
        f"booking {day.reserved}: reserved booking still holds seat 4A of schedule {day.schedule.id};"
    )
    assert " expected it freed by " in finding
    assert finding.endswith("grace 120 s)")


def test_a_hold_of_a_booking_bookings_does_not_know_is_named(world: World, day: OrdinaryDay) -> None:
    world.sql("bookings", "DELETE FROM booking_transitions WHERE booking_id = %s", day.reserved)
    world.sql("bookings", "DELETE FROM bookings WHERE id = %s", day.reserved)

    found = violations(world)["held_inventory"]

    assert found[0].startswith(f"booking {day.reserved}: holds seat 4A of schedule {day.schedule.id}; 1 room(s)")
    assert found[0].endswith("but bookings does not know the booking")


# Debits ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def without_one_debit_rule(world: World) -> Iterator[None]:
    """Payments' unique index refuses a second debit; a restore without it would not."""
    world.sql("payments", "DROP INDEX uq_ledger_transactions_one_debit")
    yield
    world.sql("payments", "TRUNCATE ledger_entries, ledger_transactions CASCADE")
    world.sql(
        "payments",
        "CREATE UNIQUE INDEX uq_ledger_transactions_one_debit ON ledger_transactions (booking_id) WHERE kind = 'debit'",
    )


@pytest.mark.usefixtures("without_one_debit_rule")
def test_a_booking_debited_twice_is_named(world: World, day: OrdinaryDay) -> None:
    world.debit(day.completed, "ravi", 1_500, record=False)

    found = violations(world)

    assert found["one_debit_per_sale"] == [
        f"booking {day.completed}: debited 2 times (1500, 1500); expected exactly one debit of 1500"
    ]
    assert found["customer_money"] == [
        "customer ravi: payments kept 8500 (debits - refunds);"
        " bookings says they owe 1500 (up to 7000 with bookings in flight)"
    ]


def test_a_confirmed_booking_without_a_debit_is_named(world: World, day: OrdinaryDay) -> None:
    unpaid = world.book("meera", "confirmed", seats=Seats(day.schedule, ["3A"]), paid=False)

    found = violations(world)

    assert found["one_debit_per_sale"] == [
        f"booking {unpaid}: confirmed for 1500; expected one debit, found none",
        f"booking {unpaid}: payments' totals say debited 0, refunded 0; expected debited 1500, refunded 0",
    ]
    assert found["customer_money"] == [
        "customer meera: payments kept 0 (debits - refunds); bookings says they owe 1500"
    ]


def test_a_debit_of_another_amount_is_named(world: World, day: OrdinaryDay) -> None:
    short = world.book("meera", "confirmed", seats=Seats(day.schedule, ["3A"]), paid=False)
    debit = world.debit(short, "meera", 1_000)

    assert violations(world)["one_debit_per_sale"] == [
        f"booking {short}: debit {debit} takes 1000; expected the booking's total, 1500",
        f"booking {short}: payments' totals say debited 1000, refunded 0; expected debited 1500, refunded 0",
    ]


def test_a_debit_from_another_customers_wallet_is_named(world: World, day: OrdinaryDay) -> None:
    booking = world.book("meera", "confirmed", seats=Seats(day.schedule, ["3A"]), paid=False)
    debit = world.debit(booking, "asha", 1_500)

    assert violations(world)["one_debit_per_sale"] == [
        f"booking {booking}: debit {debit} is from asha's wallet; expected meera's"
    ]


def test_a_refunded_confirmed_booking_is_named(world: World, day: OrdinaryDay) -> None:
    world.refund(day.completed, "ravi", 500)

    assert violations(world)["one_debit_per_sale"] == [
        f"booking {day.completed}: completed, yet refunded 500; expected nothing back",
        f"booking {day.completed}: payments' totals say debited 1500, refunded 500; expected debited 1500, refunded 0",
    ]


# Refunds --------------------------------------------------------------------------------------------------------


def test_a_refund_above_the_debit_is_named(world: World, day: OrdinaryDay) -> None:
    world.refund(day.cancelled_after_payment, "asha", 1_000, record=False)

    found = violations(world)["refunds"]

    assert f"booking {day.cancelled_after_payment}: refunded 1750 of a 1500 debit" in found


def test_a_cancelled_booking_refunded_other_than_its_refund_is_named(world: World, day: OrdinaryDay) -> None:
    world.sql("bookings", "UPDATE bookings SET refund_minor = 1500 WHERE id = %s", day.cancelled_after_payment)

    found = violations(world)

    assert found["refunds"] == [
        f"booking {day.cancelled_after_payment}: cancelled after confirmation: refunded 750 of 1500 debited;"
        " expected 1500"
    ]
    assert found["customer_money"] == [
        "customer asha: payments kept 11750 (debits - refunds); bookings says they owe 11000"
    ]


def test_an_expired_booking_debited_and_not_refunded_is_named(world: World, day: OrdinaryDay) -> None:
    world.debit(day.expired, "ravi", 8_000)

    found = violations(world)

    assert found["refunds"] == [f"booking {day.expired}: expired: refunded 0 of 8000 debited; expected 8000"]


def test_a_failed_booking_not_refunded_in_full_is_named(world: World, day: OrdinaryDay) -> None:
    booking = world.book("meera", "failed", seats=Seats(day.schedule, ["3A"]), paid=False)
    world.debit(booking, "meera", 1_500)
    world.refund(booking, "meera", 1_000)

    assert violations(world)["refunds"] == [f"booking {booking}: failed: refunded 1000 of 1500 debited; expected 1500"]


def test_money_moved_for_a_booking_bookings_does_not_know_is_named(world: World, day: OrdinaryDay) -> None:
    stranger = uuid.uuid4()
    world.debit(stranger, "asha", 2_000)

    found = violations(world)

    assert found["refunds"] == [
        f"booking {stranger}: payments debited 2000 and refunded 0 for a booking bookings does not know"
    ]
    assert found["customer_money"] == [
        "customer asha: payments kept 13750 (debits - refunds); bookings says they owe 11750"
    ]


# Money per customer and payments' own audit ---------------------------------------------------------------------


def test_a_wallet_balance_that_does_not_add_up_is_named(world: World, day: OrdinaryDay) -> None:
    world.sql("payments", "UPDATE accounts SET balance = balance + 500 WHERE customer_id = 'meera'")

    found = violations(world)

    assert found["customer_money"] == [
        "customer meera (INR): balance 12500; top-ups 10000 - debits 1500 + refunds 1500 + credits 2000 = 12000"
    ]
    assert found["payments_ledger"] == [
        "meera (INR): wallet_balance_is_its_entries: balance 12500, entries sum to 12000"
    ]


# Stuck bookings -------------------------------------------------------------------------------------------------


def test_a_stuck_booking_is_named(world: World, day: OrdinaryDay) -> None:
    stuck = world.book("meera", "payment_pending", seats=Seats(day.schedule, ["3A"]), deadline_in=-timedelta(minutes=5))

    (finding,) = violations(world)["no_stuck_bookings"]

    assert finding.startswith(f"booking {stuck}: payment_pending (last changed ")
    assert finding.endswith(" s ago")
    assert "expected to move on by its deadline" in finding
