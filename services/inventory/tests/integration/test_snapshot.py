"""The snapshot CLI re-announces every aggregate at its current version, so search can be rebuilt from scratch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inventory.config import MIGRATIONS_DIR, InventorySettings
from inventory.entrypoints.cli import COMMANDS
from tripline.cli import run_service_cli

from .. import catalog
from ..support import outbox_payloads, sql


def test_snapshot_queues_one_event_per_aggregate_at_its_current_version(
    database_url: str, settings: InventorySettings, capsys: pytest.CaptureFixture[str]
) -> None:
    operator_id = catalog.operator(database_url)
    catalog.operator(database_url, status="pending")
    schedule_id = catalog.schedule(database_url, operator_id, seats=12)
    sql(
        database_url,
        "UPDATE schedules SET version = 7, seats_version = 3, available_seats = 10 WHERE id = %s",
        schedule_id,
    )
    room_type_id = catalog.room_type(database_url, catalog.owner(database_url))
    catalog.nights(database_url, room_type_id, datetime.now(UTC).date() + timedelta(days=1), 3, 5, 9_000)

    status = run_service_cli("inventory", MIGRATIONS_DIR, lambda: settings, ["snapshot"], commands=COMMANDS)

    assert status == 0
    assert '"schedule.upserted": 1' in capsys.readouterr().out
    assert len(outbox_payloads(database_url, "inventory.evt.operator.status_changed")) == 2
    assert len(outbox_payloads(database_url, "inventory.evt.owner.status_changed")) == 1
    [schedule] = outbox_payloads(database_url, "inventory.evt.schedule.upserted")
    assert (schedule["version"], schedule["seats_version"], schedule["available_seats"]) == (7, 3, 10)
    [hotel] = outbox_payloads(database_url, "inventory.evt.hotel.upserted")
    assert [room["room_type_id"] for room in hotel["room_types"]] == [str(room_type_id)]
    [nights] = outbox_payloads(database_url, "inventory.evt.room_nights.changed")
    assert [night["available"] for night in nights["nights"]] == [5, 5, 5]


def test_snapshot_of_an_empty_catalogue_queues_nothing(database_url: str, settings: InventorySettings) -> None:
    assert run_service_cli("inventory", MIGRATIONS_DIR, lambda: settings, ["snapshot"], commands=COMMANDS) == 0
    assert sql(database_url, "SELECT count(*) FROM outbox") == [(0,)]
