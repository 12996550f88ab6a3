"""Unknown and not-yours look the same, whichever use case asks."""

from __future__ import annotations

import pytest

from inventory.service_layer.errors import NotVisible, visible_to
from tripline.auth.tokens import Principal, Role

ROW = {"id": "h-1", "account_id": "owner-1"}


@pytest.mark.parametrize("viewer", [Principal("owner-1", Role.OWNER), Principal("admin-1", Role.ADMIN)])
def test_the_owning_account_and_admins_see_the_row(viewer: Principal) -> None:
    assert visible_to(viewer, ROW, "hotel") is ROW


def test_someone_elses_row_is_refused_exactly_like_a_missing_one() -> None:
    viewer = Principal("owner-2", Role.OWNER)
    refusals = []
    for row in (ROW, None):
        with pytest.raises(NotVisible) as refused:
            visible_to(viewer, row, "hotel")
        refusals.append((refused.value.what, str(refused.value)))
    assert refusals == [("hotel", "no such hotel")] * 2
