"""``/v1/hotels`` and ``/v1/room-types``: owners describe hotels and set each night's rooms and rate."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from flask import Blueprint, Response
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from inventory.config import InventorySettings
from inventory.domain.amenities import AMENITY, MAX_AMENITIES, amenity_violations
from inventory.domain.stays import MAX_ROOMS, allotment_range, available, night_range
from inventory.domain.violations import ensure_unit_price
from inventory.entrypoints.refusals import answer_refusals
from inventory.service_layer import hotels
from inventory.service_layer.hotels import Row
from tripline.auth.access import current_principal, requires_role
from tripline.auth.tokens import Role
from tripline.http.openapi import documented
from tripline.http.responses import Timestamp, answer, created
from tripline.http.validation import ApiModel, Money, ensure_platform_currency, parse_body, parse_query
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.timestamps import utcnow

TAGS = ("hotels",)


def _amenity(token: str) -> str:
    _amenities([token])
    return token


def _amenities(tokens: list[str]) -> list[str]:
    # The domain's rule, run on each token first so that pydantic names a bad one by its index (amenities[0]);
    # what is left for the whole list (too many, a repeat) it names on the list, as this API always has.
    violations = amenity_violations(tokens)
    if violations:
        raise ValueError(violations[0].message)
    return tokens


def _text(max_length: int) -> StringConstraints:
    # Trimmed before the length check, so a blank name is refused like an empty one.
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


HotelName = Annotated[str, _text(200)]
Address = Annotated[str, _text(500)]
Stars = Annotated[int, Field(ge=1, le=5)]
Amenity = Annotated[
    str, AfterValidator(_amenity), WithJsonSchema({"type": "string", "pattern": f"^{AMENITY.pattern}$"})
]
Amenities = Annotated[list[Amenity], AfterValidator(_amenities), Field(json_schema_extra={"maxItems": MAX_AMENITIES})]


def _without_null(schema: dict[str, Any]) -> None:
    """Publish each optional property as its non-null type: leaving it out is how a client says "unchanged"."""
    for name, field in schema.get("properties", {}).items():
        kept = [choice for choice in field.get("anyOf", []) if choice != {"type": "null"}]
        if len(kept) == 1:
            others = {key: value for key, value in field.items() if key not in ("anyOf", "default")}
            schema["properties"][name] = {**others, **kept[0]}


class NewHotel(ApiModel):
    """A hotel for one of the caller's property owners."""

    owner_id: uuid.UUID
    name: HotelName
    city: Annotated[str, _text(100)]
    address: Address
    stars: Stars
    amenities: Amenities = Field(default_factory=list)


class HotelChanges(ApiModel):
    """Any of a hotel's changeable fields; the city is fixed once listed."""

    # Optional only so that a left-out field reads as "unchanged"; an explicit null is refused below, and the
    # published schema does not offer it.
    model_config = ConfigDict(json_schema_extra=_without_null)

    name: HotelName | None = None
    address: Address | None = None
    stars: Stars | None = None
    amenities: Amenities | None = None
    is_active: bool | None = None

    @field_validator("name", "address", "stars", "amenities", "is_active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:  # left out means "unchanged"; null would mean "erase", which no field allows
            raise ValueError("Must not be null")
        return value

    @model_validator(mode="after")
    def _something_changes(self) -> HotelChanges:
        if not self.model_fields_set:
            raise ValueError("Give at least one of name, address, stars, amenities, is_active")
        return self


class NewRoomType(ApiModel):
    """A kind of room a hotel sells."""

    name: Annotated[str, _text(100)]
    capacity: Annotated[int, Field(ge=1, le=20)]
    amenities: Amenities = Field(default_factory=list)


class AllotmentChange(ApiModel):
    """Rooms and nightly rate for every night in ``[from, to)``."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    rooms: Annotated[int, Field(ge=0, le=MAX_ROOMS)]
    rate: Money


class NightsQuery(ApiModel):
    """``?from=&to=``: the nights ``[from, to)``."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")


class RoomType(ApiModel):
    """A room type of a hotel."""

    id: uuid.UUID
    hotel_id: uuid.UUID
    name: str
    capacity: int
    amenities: list[str]


class Hotel(ApiModel):
    """A hotel, with its room types."""

    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    city: str
    address: str
    stars: int
    amenities: list[str]
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp
    room_types: list[RoomType]


class Night(ApiModel):
    """One night's allotment: rooms in all, rooms still free, and the rate of one room."""

    night: date
    total: int
    available: int
    rate: Money


class Nights(ApiModel):
    """Nights of one room type, earliest first."""

    items: list[Night]


def hotels_blueprint(unit_of_work: Callable[[], OutboxUnitOfWork], settings: InventorySettings) -> Blueprint:
    """The hotels routes."""
    blueprint = Blueprint("hotels", __name__, url_prefix="/v1")
    answer_refusals(blueprint)

    @blueprint.post("/hotels")
    @documented("Register a hotel", body=NewHotel, responses={201: Hotel, 404: None}, tags=TAGS)
    @requires_role(Role.OWNER)
    def register_hotel() -> Response:
        body = parse_body(NewHotel)
        description = body.model_dump(exclude={"owner_id"})
        hotel = hotels.register_hotel(unit_of_work(), current_principal(), body.owner_id, description)
        return created(_hotel(hotel), f"/v1/hotels/{hotel['id']}")

    @blueprint.get("/hotels/<uuid:hotel_id>")
    @documented("A hotel with its room types", responses={200: Hotel, 404: None}, tags=TAGS)
    @requires_role(Role.OWNER, Role.ADMIN)
    def show_hotel(hotel_id: uuid.UUID) -> Response:
        return answer(_hotel(hotels.find_hotel(unit_of_work(), current_principal(), hotel_id)))

    @blueprint.patch("/hotels/<uuid:hotel_id>")
    @documented("Change a hotel's description", body=HotelChanges, responses={200: Hotel, 404: None}, tags=TAGS)
    @requires_role(Role.OWNER, Role.ADMIN)
    def revise_hotel(hotel_id: uuid.UUID) -> Response:
        changes = parse_body(HotelChanges).model_dump(exclude_unset=True)
        return answer(_hotel(hotels.revise_hotel(unit_of_work(), current_principal(), hotel_id, changes)))

    @blueprint.post("/hotels/<uuid:hotel_id>/room-types")
    @documented(
        "Add a room type to a hotel", body=NewRoomType, responses={201: RoomType, 404: None, 409: None}, tags=TAGS
    )
    @requires_role(Role.OWNER)
    def add_room_type(hotel_id: uuid.UUID) -> Response:
        body = parse_body(NewRoomType).model_dump()
        room_type = hotels.add_room_type(unit_of_work(), current_principal(), hotel_id, body)
        return created(_room_type(room_type), f"/v1/room-types/{room_type['id']}")

    @blueprint.get("/room-types/<uuid:room_type_id>")
    @documented("A room type", responses={200: RoomType, 404: None}, tags=TAGS)
    @requires_role(Role.OWNER, Role.ADMIN)
    def show_room_type(room_type_id: uuid.UUID) -> Response:
        return answer(_room_type(hotels.find_room_type(unit_of_work(), current_principal(), room_type_id)))

    @blueprint.put("/room-types/<uuid:room_type_id>/nights")
    @documented(
        "Set rooms and rate for each night in [from, to); refused whole if any night holds or sells more",
        body=AllotmentChange,
        responses={200: Nights, 404: None, 409: None},
        tags=TAGS,
    )
    @requires_role(Role.OWNER)
    def set_allotment(room_type_id: uuid.UUID) -> Response:
        body = parse_body(AllotmentChange)
        ensure_platform_currency(body.rate, settings.platform_currency, field="rate")
        ensure_unit_price("rate", body.rate.amount_minor)
        span = allotment_range(body.start, body.end, today=utcnow().date())
        rate = body.rate.model_dump()
        changed = hotels.set_allotment(unit_of_work(), current_principal(), room_type_id, span, body.rooms, rate)
        return answer(_nights(changed))

    @blueprint.get("/room-types/<uuid:room_type_id>/nights")
    @documented(
        "Allotment of each night in [from, to); nights never set are omitted",
        query=NightsQuery,
        responses={200: Nights, 404: None},
        tags=TAGS,
    )
    @requires_role(Role.OWNER, Role.ADMIN)
    def show_allotment(room_type_id: uuid.UUID) -> Response:
        query = parse_query(NightsQuery)
        span = night_range(query.start, query.end)
        return answer(_nights(hotels.allotment(unit_of_work(), current_principal(), room_type_id, span)))

    return blueprint


def _room_type(row: Row) -> RoomType:
    return RoomType(
        id=row["id"], hotel_id=row["hotel_id"], name=row["name"], capacity=row["capacity"], amenities=row["amenities"]
    )


def _hotel(row: Row) -> Hotel:
    return Hotel(
        id=row["id"],
        owner_id=row["owner_id"],
        name=row["name"],
        city=row["city"],
        address=row["address"],
        stars=row["stars"],
        amenities=row["amenities"],
        is_active=row["is_active"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        room_types=[_room_type(kind) for kind in row["room_types"]],
    )


def _nights(rows: list[Row]) -> Nights:
    return Nights(
        items=[
            Night(
                night=row["night"],
                total=row["total"],
                available=available(row["total"], row["held"], row["sold"]),
                rate=Money(amount_minor=row["rate_minor"], currency=row["currency"]),
            )
            for row in rows
        ]
    )
