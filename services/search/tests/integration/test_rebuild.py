"""``search rebuild``: the read model is emptied and asked for again, and is complete when inventory says so."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from search.adapters.tables import READ_MODEL
from search.config import MIGRATIONS_DIR, SearchSettings
from search.entrypoints.cli import COMMANDS
from search.service_layer.rebuild import TRUNCATION_ORDER, start_rebuild
from tripline.cli import run_service_cli
from tripline.contracts.inventory import SnapshotAnnounced
from tripline.testing import outbox_payloads, sql

from ..supply import ReadModel, hotel, nights, operator, owner, room, schedule, seats, soon

COUNTS = {"schedule.upserted": 1, "hotel.upserted": 1}


def _catalogue(read_model: ReadModel) -> list[object]:
    operator_id, owner_id, schedule_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    hotel_id, room_type_id = uuid.uuid4(), uuid.uuid4()
    return [
        operator(operator_id, "approved", version=2),
        schedule(schedule_id, operator_id, version=3, seats_version=5, available_seats=36),
        owner(owner_id, "approved", version=2),
        hotel(hotel_id, owner_id, [room(room_type_id)], version=4),
        nights(room_type_id, hotel_id, soon(5).date(), 4, available=3, version=2),
    ]


def _rebuild(settings: SearchSettings, *options: str) -> int:
    return run_service_cli("search", MIGRATIONS_DIR, lambda: settings, ["rebuild", *options], commands=COMMANDS)


def test_starting_a_rebuild_empties_the_read_model_and_asks_inventory_for_a_snapshot(
    read_model: ReadModel, database_url: str
) -> None:
    read_model.apply(*_catalogue(read_model))

    request_id = start_rebuild(read_model.unit_of_work)

    assert all(rows == [] for rows in read_model.tables().values())
    assert outbox_payloads(database_url, "inventory.cmd.announce_snapshot") == [{"request_id": str(request_id)}]
    assert sql(database_url, "SELECT completed_at FROM rebuilds WHERE request_id = %s", request_id) == [(None,)]


def test_the_snapshot_rebuilds_what_the_events_had_built(read_model: ReadModel) -> None:
    catalogue = _catalogue(read_model)
    schedule_id = catalogue[1].schedule_id  # type: ignore[attr-defined]
    read_model.apply(*catalogue, seats(schedule_id, 30, version=6))
    incremental = read_model.tables()

    start_rebuild(read_model.unit_of_work)
    # Inventory's snapshot: every aggregate once, at its current version, in no particular order.
    snapshot = [
        *catalogue[2:],
        catalogue[0],
        catalogue[1].model_copy(update={"seats_version": 6, "available_seats": 30}),
    ]  # type: ignore[attr-defined]
    read_model.apply(*snapshot)

    assert read_model.tables() == incremental


def test_inventorys_answer_completes_the_rebuild_once(read_model: ReadModel, database_url: str) -> None:
    request_id = start_rebuild(read_model.unit_of_work)

    [answer] = read_model.apply(SnapshotAnnounced(request_id=request_id, counts=COUNTS))
    read_model.deliver(answer)
    read_model.apply(SnapshotAnnounced(request_id=request_id, counts={"schedule.upserted": 99}))
    read_model.apply(SnapshotAnnounced(request_id=uuid.uuid4(), counts=COUNTS))  # another rebuild's: not ours

    [(completed_at, counts)] = sql(database_url, "SELECT completed_at, counts FROM rebuilds")
    assert completed_at is not None
    assert counts == COUNTS


def test_the_command_returns_at_once_with_no_wait(
    read_model: ReadModel, settings: SearchSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    read_model.apply(*_catalogue(read_model))

    assert _rebuild(settings, "--no-wait") == 0

    assert '"status": "requested"' in capsys.readouterr().out
    assert read_model.tables()["trips"] == []


def test_the_command_waits_for_inventorys_answer(
    read_model: ReadModel, settings: SearchSettings, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def answer_when_asked() -> None:
        for _ in range(200):
            asked = outbox_payloads(database_url, "inventory.cmd.announce_snapshot")
            if asked:
                read_model.apply(SnapshotAnnounced(request_id=uuid.UUID(asked[0]["request_id"]), counts=COUNTS))
                return
            threading.Event().wait(0.05)

    inventory = threading.Thread(target=answer_when_asked)
    inventory.start()
    status = _rebuild(settings, "--timeout", "30")
    inventory.join()

    assert status == 0
    assert '"status": "completed"' in capsys.readouterr().out


def test_the_rebuild_empties_every_table_of_the_read_model() -> None:
    assert set(TRUNCATION_ORDER) == {table.name for table in READ_MODEL}


def test_a_rebuild_that_cannot_have_the_tables_soon_gives_up_and_says_so(
    read_model: ReadModel, settings: SearchSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    with read_model.engine.begin() as busy:
        busy.execute(text("LOCK TABLE hotels IN ACCESS SHARE MODE"))  # a long search, say

        assert _rebuild(settings, "--no-wait") == 1

    assert "the read model is busy" in capsys.readouterr().err


def test_the_command_says_so_when_nobody_answers(
    read_model: ReadModel, settings: SearchSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _rebuild(settings, "--timeout", "0.3") == 1

    assert "not complete after 0.3 s" in capsys.readouterr().err


def test_searches_find_nothing_until_the_snapshot_arrives(read_model: ReadModel, client: FlaskClient) -> None:
    catalogue = _catalogue(read_model)
    read_model.apply(*catalogue)
    check_in = soon(5).date()
    query = {"city": "Goa", "check_in": check_in.isoformat(), "check_out": (check_in + timedelta(days=2)).isoformat()}

    start_rebuild(read_model.unit_of_work)
    assert client.get("/v1/search/hotels", query_string=query).json["items"] == []

    read_model.apply(*catalogue)
    response = client.get("/v1/search/hotels", query_string=query)
    assert response.status_code == 200, response.json["errors"]
    assert len(response.json["items"]) == 1
