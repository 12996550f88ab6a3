"""``cli seed``: demo supply that is sellable at once, and a second run that adds nothing."""

from __future__ import annotations

import pytest

from inventory.config import MIGRATIONS_DIR, InventorySettings
from inventory.entrypoints.cli import COMMANDS
from tripline.cli import run_service_cli

from ..support import sql


def seed(settings: InventorySettings) -> int:
    return run_service_cli("inventory", MIGRATIONS_DIR, lambda: settings, ["seed"], commands=COMMANDS)


def test_seeding_creates_approved_supply_with_departures_and_nights(
    database_url: str, settings: InventorySettings
) -> None:
    assert seed(settings) == 0

    assert sql(database_url, "SELECT account_id, approval_status FROM operators") == [("demo-operator", "approved")]
    assert sql(database_url, "SELECT account_id, approval_status FROM property_owners") == [("demo-owner", "approved")]
    assert sql(database_url, "SELECT count(*) FROM schedules WHERE departs_at > now()") == [(42,)]
    assert sql(database_url, "SELECT count(DISTINCT room_type_id), count(*) FROM room_nights") == [(3, 180)]
    assert sql(database_url, "SELECT count(*) FROM outbox WHERE subject = 'inventory.evt.schedule.upserted'") == [(42,)]


def test_seeding_again_changes_nothing(
    database_url: str, settings: InventorySettings, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(settings)
    counts = sql(database_url, "SELECT (SELECT count(*) FROM schedules), (SELECT count(*) FROM outbox)")

    assert seed(settings) == 0

    assert '"schedules_published": 0' in capsys.readouterr().out.splitlines()[-1]
    assert sql(database_url, "SELECT (SELECT count(*) FROM schedules), (SELECT count(*) FROM outbox)") == counts
