"""Search's tables (its database only); ``migrations/`` builds the same schema, with its constraints."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    Uuid,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnClause

from tripline.db import new_metadata
from tripline.plumbing import define_plumbing_tables

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)


def _supplier_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("name", Text, nullable=False),
        Column("approval_status", Text, nullable=False),
        Column("version", Integer, nullable=False),
    )


operators = _supplier_table("operators")
property_owners = _supplier_table("property_owners")

trips = Table(
    "trips",
    metadata,
    Column("schedule_id", Uuid, primary_key=True),
    Column("operator_id", Uuid, nullable=False),
    Column("bus_type", Text, nullable=False),
    Column("amenities", ARRAY(Text), nullable=False),
    Column("origin", Text, nullable=False),
    Column("destination", Text, nullable=False),
    Column("origin_key", Text, nullable=False),
    Column("destination_key", Text, nullable=False),
    Column("departs_at", DateTime(timezone=True), nullable=False),
    Column("arrives_at", DateTime(timezone=True), nullable=False),
    Column("duration_minutes", Integer, nullable=False),
    Column("fare_minor", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("total_seats", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_trips_route", "origin_key", "destination_key", "departs_at", postgresql_where=text("status = 'active'")),
)

trip_seats = Table(
    "trip_seats",
    metadata,
    Column("schedule_id", Uuid, primary_key=True),
    Column("available_seats", Integer, nullable=False),
    Column("seats_version", Integer, nullable=False),
)

hotels = Table(
    "hotels",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, nullable=False),
    Column("name", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("city_key", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("stars", SmallInteger, nullable=False),
    Column("amenities", ARRAY(Text), nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_hotels_city", "city_key", postgresql_where=text("is_active")),
)

room_types = Table(
    "room_types",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("hotel_id", Uuid, nullable=False),
    Column("name", Text, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("amenities", ARRAY(Text), nullable=False),
    Index("ix_room_types_hotel", "hotel_id"),
)

room_nights = Table(
    "room_nights",
    metadata,
    Column("room_type_id", Uuid, primary_key=True),
    Column("night", Date, primary_key=True),
    Column("hotel_id", Uuid, nullable=False),
    Column("total", Integer, nullable=False),
    Column("available", Integer, nullable=False),
    Column("rate_minor", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("version", Integer, nullable=False),
)

rebuilds = Table(
    "rebuilds",
    metadata,
    Column("request_id", Uuid, primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True)),
    Column("counts", JSONB),
)

READ_MODEL = (operators, property_owners, trips, trip_seats, hotels, room_types, room_nights)

# Literals, not parameters: the planner then matches the partial indexes even in a prepared statement.
ACTIVE: ColumnClause[str] = literal_column("'active'", Text)
APPROVED: ColumnClause[str] = literal_column("'approved'", Text)
