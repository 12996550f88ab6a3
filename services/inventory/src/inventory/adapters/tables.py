"""Inventory's tables (its database only).

The rules that keep inventory honest live here as constraints, not only in code: a seat is held or sold by
exactly one hold, a night never holds or sells more rooms than it has, an approval audit row never changes.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from tripline.db import new_metadata
from tripline.plumbing import define_plumbing_tables

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)

APPROVAL_STATUSES = "'pending', 'approved', 'rejected', 'suspended'"


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


def _supplier_table(name: str, metadata: MetaData) -> Table:
    """Operators and property owners share one shape: an account's business, and its approval."""
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("account_id", Text, nullable=False, unique=True),
        Column("name", Text, nullable=False),
        Column("contact_email", Text, nullable=False),
        Column("approval_status", Text, nullable=False, server_default=text("'pending'")),
        Column("submitted_at", DateTime(timezone=True), nullable=False),
        Column("approved_at", DateTime(timezone=True)),
        Column("rejected_at", DateTime(timezone=True)),
        Column("suspended_at", DateTime(timezone=True)),
        Column("reviewed_by", Text),
        Column("review_note", Text),
        Column("version", Integer, nullable=False, server_default=text("1")),
        CheckConstraint(f"approval_status IN ({APPROVAL_STATUSES})", name="approval_status"),
    )


operators = _supplier_table("operators", metadata)
property_owners = _supplier_table("property_owners", metadata)

# Append-only: a trigger (see migration 0002) refuses UPDATE and DELETE.
approval_audit = Table(
    "approval_audit",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("supplier_kind", Text, nullable=False),
    Column("supplier_id", Uuid, nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("supplier_kind IN ('operator', 'owner')", name="supplier_kind"),
    Index("ix_approval_audit_supplier", "supplier_kind", "supplier_id", "id"),
)

buses = Table(
    "buses",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("operator_id", Uuid, ForeignKey("operators.id"), nullable=False, index=True),
    Column("registration", Text, nullable=False, unique=True),
    Column("bus_type", Text, nullable=False),
    Column("amenities", ARRAY(Text), nullable=False),
    Column("seat_labels", ARRAY(Text), nullable=False),
    _created_at(),
    CheckConstraint("bus_type IN ('seater', 'sleeper', 'semi_sleeper')", name="bus_type"),
    CheckConstraint("cardinality(seat_labels) BETWEEN 1 AND 100", name="seat_count"),
)

schedules = Table(
    "schedules",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("operator_id", Uuid, ForeignKey("operators.id"), nullable=False, index=True),
    Column("bus_id", Uuid, ForeignKey("buses.id"), nullable=False, index=True),
    Column("origin", Text, nullable=False),
    Column("destination", Text, nullable=False),
    Column("departs_at", DateTime(timezone=True), nullable=False),
    Column("arrives_at", DateTime(timezone=True), nullable=False),
    Column("fare_minor", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'active'")),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("total_seats", SmallInteger, nullable=False),
    # Kept with the seats in the same transaction, and counted by its own version (see ScheduleUpserted).
    Column("available_seats", SmallInteger, nullable=False),
    Column("seats_version", Integer, nullable=False, server_default=text("1")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    _created_at(),
    CheckConstraint("status IN ('active', 'cancelled')", name="status"),
    CheckConstraint("arrives_at > departs_at", name="arrives_after_departure"),
    CheckConstraint("fare_minor >= 0", name="fare_not_negative"),
    CheckConstraint("available_seats BETWEEN 0 AND total_seats", name="available_seats"),
)

seats = Table(
    "seats",
    metadata,
    Column("schedule_id", Uuid, ForeignKey("schedules.id"), nullable=False),
    Column("seat_no", Text, nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'free'")),
    Column("hold_id", Uuid),
    PrimaryKeyConstraint("schedule_id", "seat_no"),
    CheckConstraint("status IN ('free', 'held', 'sold')", name="status"),
    # A seat that is held or sold belongs to exactly one hold; a free seat to none.
    CheckConstraint("(status = 'free') = (hold_id IS NULL)", name="hold_matches_status"),
    Index("ix_seats_hold_id", "hold_id", postgresql_where=text("hold_id IS NOT NULL")),
)

hotels = Table(
    "hotels",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("owner_id", Uuid, ForeignKey("property_owners.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("stars", SmallInteger, nullable=False),
    Column("amenities", ARRAY(Text), nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    _created_at(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("stars BETWEEN 1 AND 5", name="stars"),
)

room_types = Table(
    "room_types",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("hotel_id", Uuid, ForeignKey("hotels.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("capacity", SmallInteger, nullable=False),
    Column("amenities", ARRAY(Text), nullable=False),
    _created_at(),
    UniqueConstraint("hotel_id", "name", name="uq_room_types_hotel_id_name"),
    CheckConstraint("capacity BETWEEN 1 AND 20", name="capacity"),
)

room_nights = Table(
    "room_nights",
    metadata,
    Column("room_type_id", Uuid, ForeignKey("room_types.id"), nullable=False),
    Column("night", Date, nullable=False),
    Column("total", Integer, nullable=False),
    Column("held", Integer, nullable=False, server_default=text("0")),
    Column("sold", Integer, nullable=False, server_default=text("0")),
    Column("rate_minor", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
    PrimaryKeyConstraint("room_type_id", "night"),
    # The last line of defence against overselling a night, whatever the code above it does.
    CheckConstraint("held >= 0 AND sold >= 0 AND held + sold <= total", name="within_allotment"),
    CheckConstraint("rate_minor >= 0", name="rate_not_negative"),
)

holds = Table(
    "holds",
    metadata,
    # One booking, at most one hold, forever: the booking id is the hold id.
    Column("booking_id", Uuid, primary_key=True),
    Column("status", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    # Why a reserve was refused, or why the hold was released; replayed to a duplicate command.
    Column("reason", Text),
    Column("detail", Text),
    Column("item_index", SmallInteger),
    _created_at(),
    Column("confirmed_at", DateTime(timezone=True)),
    Column("released_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('held', 'confirmed', 'rejected', 'released', 'expired')", name="status"),
    Index("ix_holds_expires_at", "expires_at", postgresql_where=text("status = 'held'")),
)

hold_items = Table(
    "hold_items",
    metadata,
    Column("booking_id", Uuid, ForeignKey("holds.booking_id"), nullable=False),
    Column("position", SmallInteger, nullable=False),
    # The priced item exactly as announced in hold.reserved, so a duplicate reserve gets the same answer.
    Column("item", JSONB, nullable=False),
    PrimaryKeyConstraint("booking_id", "position"),
)

snapshot_requests = Table(
    "snapshot_requests",
    metadata,
    # Chosen by the requester (search), so a repeated request is the same snapshot.
    Column("request_id", Uuid, primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Both stay null until the worker has announced every aggregate for this request.
    Column("announced_at", DateTime(timezone=True)),
    Column("counts", JSONB),
    Index("ix_snapshot_requests_pending", "requested_at", postgresql_where=text("announced_at IS NULL")),
)
