"""``/v1/buses`` and ``/v1/schedules``: operators describe their fleet and put departures on sale."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from flask import Blueprint, Response
from pydantic import Field

from inventory.config import InventorySettings
from inventory.domain import fleet as rules
from inventory.domain.fleet import ShownSeatStatus
from inventory.entrypoints.refusals import answer_refusals
from inventory.service_layer import fleet
from tripline.auth.access import current_principal, requires_role
from tripline.auth.tokens import Role
from tripline.contracts.inventory import BusType
from tripline.http.openapi import documented
from tripline.http.responses import answer, created
from tripline.http.validation import ApiModel, Money, ensure_platform_currency, parse_body
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.timestamps import utcnow

TAGS = ("fleet",)


class NewBus(ApiModel):
    """A bus to add to an operator's fleet."""

    operator_id: uuid.UUID
    registration: Annotated[str, Field(examples=["MH-01-AB-1234"], description="1-20 characters, kept upper case")]
    bus_type: BusType
    amenities: Annotated[list[str], Field(examples=[["ac", "wifi"]], description="0-30 distinct [a-z0-9_]{1,32}")] = []
    seats: Annotated[list[str], Field(examples=[["1A", "1B"]], description="1-100 distinct [A-Za-z0-9-]{1,8}")]


class Bus(ApiModel):
    """A bus of an operator's fleet."""

    id: uuid.UUID
    operator_id: uuid.UUID
    registration: str
    bus_type: BusType
    amenities: list[str]
    seats: list[str]
    created_at: datetime


class NewSchedule(ApiModel):
    """A departure of one of the operator's buses."""

    bus_id: uuid.UUID
    origin: Annotated[str, Field(examples=["Mumbai"])]
    destination: Annotated[str, Field(examples=["Goa"])]
    departs_at: Annotated[datetime, Field(description="RFC 3339 with an offset, in the future")]
    arrives_at: Annotated[datetime, Field(description="RFC 3339 with an offset, after departs_at")]
    fare: Money


class SeatMapEntry(ApiModel):
    """One seat of a schedule and whether it can still be sold."""

    seat: str
    status: ShownSeatStatus


class Schedule(ApiModel):
    """A departure with its seat map."""

    id: uuid.UUID
    operator_id: uuid.UUID
    bus_id: uuid.UUID
    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    fare: Money
    status: Literal["active", "cancelled"]
    available_seats: int
    seat_map: list[SeatMapEntry]
    cancelled_at: datetime | None
    total_seats: int
    version: int


def fleet_blueprint(unit_of_work: Callable[[], OutboxUnitOfWork], settings: InventorySettings) -> Blueprint:
    """The fleet routes: buses, schedules and their seat maps."""
    blueprint = Blueprint("fleet", __name__)
    answer_refusals(blueprint)

    @blueprint.post("/v1/buses")
    @documented(
        "Add a bus to your operator's fleet", body=NewBus, responses={201: Bus, 404: None, 409: None}, tags=TAGS
    )
    @requires_role(Role.OPERATOR)
    def create_bus() -> Response:
        body = parse_body(NewBus)
        spec = rules.describe_bus(body.registration, body.bus_type, body.amenities, body.seats)
        bus = fleet.register_bus(unit_of_work(), current_principal().sub, body.operator_id, spec)
        return created(_bus(bus), f"/v1/buses/{bus['id']}")

    @blueprint.get("/v1/buses/<uuid:bus_id>")
    @documented("A bus of your fleet", responses={200: Bus, 404: None}, tags=TAGS)
    @requires_role(Role.OPERATOR, Role.ADMIN)
    def show_bus(bus_id: uuid.UUID) -> Response:
        return answer(_bus(fleet.find_bus(unit_of_work(), bus_id, current_principal())))

    @blueprint.post("/v1/schedules")
    @documented(
        "Put a departure of your bus on sale", body=NewSchedule, responses={201: Schedule, 404: None}, tags=TAGS
    )
    @requires_role(Role.OPERATOR)
    def create_schedule() -> Response:
        body = parse_body(NewSchedule)
        ensure_platform_currency(body.fare, settings.platform_currency, field="fare")
        departure = rules.plan_departure(
            body.origin,
            body.destination,
            body.departs_at,
            body.arrives_at,
            body.fare.amount_minor,
            body.fare.currency,
            now=utcnow(),
        )
        schedule = fleet.publish_schedule(unit_of_work(), current_principal().sub, body.bus_id, departure)
        return created(_schedule(schedule), f"/v1/schedules/{schedule['id']}")

    @blueprint.get("/v1/schedules/<uuid:schedule_id>")
    @documented("A departure with its seat map", responses={200: Schedule, 404: None}, tags=TAGS)
    @requires_role()
    def show_schedule(schedule_id: uuid.UUID) -> Response:
        return answer(_schedule(fleet.find_schedule(unit_of_work(), schedule_id)))

    @blueprint.post("/v1/schedules/<uuid:schedule_id>/cancel")
    @documented("Cancel a departure that has not left", responses={200: Schedule, 404: None, 409: None}, tags=TAGS)
    @requires_role(Role.OPERATOR, Role.ADMIN)
    def cancel_schedule(schedule_id: uuid.UUID) -> Response:
        return answer(_schedule(fleet.cancel_schedule(unit_of_work(), schedule_id, current_principal())))

    return blueprint


def _bus(bus: dict[str, Any]) -> Bus:
    return Bus(
        id=bus["id"],
        operator_id=bus["operator_id"],
        registration=bus["registration"],
        bus_type=bus["bus_type"],
        amenities=list(bus["amenities"]),
        seats=list(bus["seat_labels"]),
        created_at=bus["created_at"],
    )


def _schedule(schedule: dict[str, Any]) -> Schedule:
    return Schedule(
        id=schedule["id"],
        operator_id=schedule["operator_id"],
        bus_id=schedule["bus_id"],
        origin=schedule["origin"],
        destination=schedule["destination"],
        departs_at=schedule["departs_at"],
        arrives_at=schedule["arrives_at"],
        fare=Money(amount_minor=schedule["fare_minor"], currency=schedule["currency"]),
        status=schedule["status"],
        available_seats=schedule["available_seats"],
        seat_map=[
            SeatMapEntry(seat=label, status=rules.shown_seat_status(status)) for label, status in schedule["seat_map"]
        ],
        cancelled_at=schedule["cancelled_at"],
        total_seats=schedule["total_seats"],
        version=schedule["version"],
    )
