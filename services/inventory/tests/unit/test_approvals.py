import itertools
from datetime import UTC, datetime

import pytest

from inventory.domain.approvals import TRANSITIONS, ApprovalStatus, Decision, InvalidTransition, review

NOW = datetime(2026, 12, 1, tzinfo=UTC)
LEGAL = {
    (ApprovalStatus.PENDING, Decision.APPROVE, ApprovalStatus.APPROVED),
    (ApprovalStatus.PENDING, Decision.REJECT, ApprovalStatus.REJECTED),
    (ApprovalStatus.REJECTED, Decision.APPROVE, ApprovalStatus.APPROVED),
    (ApprovalStatus.APPROVED, Decision.SUSPEND, ApprovalStatus.SUSPENDED),
    (ApprovalStatus.SUSPENDED, Decision.APPROVE, ApprovalStatus.APPROVED),
}


def test_the_transition_table_is_exactly_the_legal_one() -> None:
    assert {(current, decision, target) for (current, decision), target in TRANSITIONS.items()} == LEGAL


@pytest.mark.parametrize(("current", "decision"), list(itertools.product(ApprovalStatus, Decision)))
def test_every_status_and_decision_is_either_legal_or_refused(current: ApprovalStatus, decision: Decision) -> None:
    if (current, decision) in TRANSITIONS:
        outcome = review(current, decision, "admin-1", "ok", NOW)
        assert (outcome.from_status, outcome.to_status) == (current, TRANSITIONS[current, decision])
        assert outcome.stamped_column == f"{outcome.to_status.value}_at"
    else:
        with pytest.raises(InvalidTransition):
            review(current, decision, "admin-1", "ok", NOW)
