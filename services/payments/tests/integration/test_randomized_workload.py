"""Random days of payments traffic, partly concurrent: the ledger passes its audit and every customer's money adds
up to what the replies say moved.

A seeded generator makes top-ups (some retried with their key), debits (resent with the booking's key, some in a
foreign currency) and refunds (before or after their debit, partial, over the cap, resent), delivers some envelopes
twice, shuffles everything and plays it in batches run from several threads at once.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from payments.adapters.providers import SandboxProvider
from payments.service_layer import top_ups
from payments.service_layer.audit import audit_ledger
from tripline.contracts.payments import DebitWallet, debit_key
from tripline.contracts.values import Money
from tripline.messaging.envelope import Envelope

from ..cashier import CURRENCY, Cashier, command_envelope, debit_command, refund_command

CUSTOMERS = ("amaan", "bela", "chitra", "dev")
REASONS = ("cancelled", "seat_changed", "confirm_rejected")
BOOKINGS = 16
THREADS = 8


@dataclass(frozen=True)
class TopUp:
    """A top-up as the wallet endpoint makes it; the same key may come again (a retry)."""

    customer_id: str
    amount: int
    key: str


Step = TopUp | Envelope


@dataclass
class Workload:
    steps: list[Step]
    owners: dict[uuid.UUID, str]  # who books (and pays for) each booking
    foreign: set[uuid.UUID] = field(default_factory=set)  # ids of debit envelopes in another currency


def generate(rng: random.Random) -> Workload:
    """One day of traffic, in the order it will be played."""
    steps: list[Step] = []
    workload = Workload(steps, {})
    top_ups = [
        TopUp(customer, rng.randint(2_000, 12_000), f"{customer}-top-up-{n}")
        for customer in CUSTOMERS
        for n in range(rng.randint(1, 2))
    ]
    steps += top_ups + [top_up for top_up in top_ups if rng.random() < 0.4]
    for _ in range(BOOKINGS):
        booking, owner, price = uuid.uuid4(), rng.choice(CUSTOMERS), rng.randint(500, 6_000)
        workload.owners[booking] = owner
        commands: list[Envelope] = [
            command_envelope(debit_command(booking, owner, price)) for _ in range(rng.randint(0, 3))
        ]
        if rng.random() < 0.25:
            foreign = command_envelope(
                DebitWallet(
                    booking_id=booking,
                    customer_id=owner,
                    amount=Money(amount_minor=price, currency="USD"),
                    idempotency_key=f"{debit_key(booking)}:usd",
                )
            )
            workload.foreign.add(foreign.id)
            commands.append(foreign)
        for _ in range(rng.randint(0, 3)):
            amount = rng.choice([None, rng.randint(1, price * 3 // 2)])  # a third of them ask more than was paid
            commands.append(command_envelope(refund_command(booking, amount, rng.choice(REASONS))))
        steps += commands + [envelope for envelope in commands if rng.random() < 0.25]  # delivered twice
    rng.shuffle(steps)
    return workload


def play(cashier: Cashier, workload: Workload, rng: random.Random) -> dict[TopUp, list[Any]]:
    """Play the steps in batches of random size, each batch from several threads at once; the top-ups' results."""
    made: dict[TopUp, list[Any]] = defaultdict(list)

    def run(step: Step) -> None:
        if isinstance(step, Envelope):
            cashier.deliver(step)
            return
        row = top_ups.top_up(cashier.unit_of_work, SandboxProvider(), step.customer_id, step.amount, CURRENCY, step.key)
        made[step].append(row)

    steps = list(workload.steps)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        while steps:
            size = rng.randint(1, 2 * THREADS)
            batch, steps = steps[:size], steps[size:]
            list(pool.map(run, batch))
    return made


@pytest.mark.parametrize("seed", [7, 1234, 2024, 99991])
def test_a_random_day_of_traffic_keeps_the_ledger_sound_and_every_wallet_equal_to_what_moved(
    cashier: Cashier, seed: int
) -> None:
    rng = random.Random(seed)
    workload = generate(rng)

    made = play(cashier, workload, rng)

    report = audit_ledger(cashier.unit_of_work())
    assert report.passed, "\n".join(report.lines())

    topped_up: Counter[str] = Counter()
    for top_up, rows in made.items():
        assert len({row["id"] for row in rows}) == 1, f"{top_up.key} moved money more than once"
        assert rows[0]["amount"] == top_up.amount
        topped_up[top_up.customer_id] += top_up.amount

    debits: dict[str, dict[str, Any]] = {}  # by transaction id
    refunds: dict[str, dict[str, Any]] = {}
    debit_answers: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)  # by booking
    for envelope in {step.id: step for step in workload.steps if isinstance(step, Envelope)}.values():
        replies = cashier.replies_to(envelope)
        kinds = [kind for kind, _ in replies]
        if envelope.type == DebitWallet.TYPE:
            # One answer to the debit, and the money of refunds that were waiting for it.
            [answer] = [reply for reply in replies if reply[0] != "refund.succeeded"]
            assert answer[0] in ("debit.succeeded", "debit.declined"), kinds
            if envelope.id in workload.foreign and answer[0] == "debit.declined":
                assert answer[1]["reason"] == "currency_mismatch"
            elif envelope.id in workload.foreign:
                # The booking was already paid in the wallet's currency: that payment is the answer.
                assert answer[1]["amount"]["currency"] == CURRENCY
                debit_answers[envelope.payload["booking_id"]].append(answer)
            else:
                debit_answers[envelope.payload["booking_id"]].append(answer)
        else:
            assert kinds == ["refund.succeeded"], kinds
        for kind, payload in replies:
            if kind == "debit.succeeded":
                debits[payload["transaction_id"]] = payload
            elif kind == "refund.succeeded" and payload["transaction_id"] is not None:
                refunds[payload["transaction_id"]] = payload

    # Every resend of a booking's debit is answered with the first decision, and a booking is paid once.
    for answers in debit_answers.values():
        decisions = [(kind, {k: v for k, v in payload.items() if k != "idempotency_key"}) for kind, payload in answers]
        assert all(decision == decisions[0] for decision in decisions)
    paid = {payload["booking_id"]: payload["amount"]["amount_minor"] for payload in debits.values()}
    assert len(paid) == len(debits)

    given_back: Counter[str] = Counter()
    for payload in refunds.values():
        given_back[payload["booking_id"]] += payload["amount"]["amount_minor"]
    for booking in workload.owners:
        debited, refunded = paid.get(str(booking), 0), given_back[str(booking)]
        assert refunded <= debited
        assert (cashier.booking(booking) or (0, 0)) == (debited, refunded)

    spent: Counter[str] = Counter()
    for payload in debits.values():
        assert payload["customer_id"] == workload.owners[uuid.UUID(payload["booking_id"])]
        spent[payload["customer_id"]] += payload["amount"]["amount_minor"]
    back: Counter[str] = Counter()
    for refunded_booking, amount in given_back.items():
        back[workload.owners[uuid.UUID(refunded_booking)]] += amount
    assert {customer: cashier.balance(customer) for customer in CUSTOMERS} == {
        customer: topped_up[customer] - spent[customer] + back[customer] for customer in CUSTOMERS
    }
