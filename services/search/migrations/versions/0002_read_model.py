"""The read model: trips and their free seats, hotels, room types and room nights, suppliers' approval, rebuilds.

No foreign keys: events arrive in any order, so a trip may be known before its operator, or a night before its
hotel. Every query joins what it needs and lists only what is complete, approved and active.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPROVAL_STATUSES = "'pending', 'approved', 'rejected', 'suspended'"

UPGRADE = [
    f"""
    CREATE TABLE operators (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        approval_status text NOT NULL CHECK (approval_status IN ({APPROVAL_STATUSES})),
        version integer NOT NULL
    )
    """,
    f"""
    CREATE TABLE property_owners (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        approval_status text NOT NULL CHECK (approval_status IN ({APPROVAL_STATUSES})),
        version integer NOT NULL
    )
    """,
    """
    CREATE TABLE trips (
        schedule_id uuid PRIMARY KEY,
        operator_id uuid NOT NULL,
        bus_type text NOT NULL,
        amenities text[] NOT NULL,
        origin text NOT NULL,
        destination text NOT NULL,
        -- Normalised city names (case and spacing folded), so a search matches however the city is typed.
        origin_key text NOT NULL,
        destination_key text NOT NULL,
        departs_at timestamptz NOT NULL,
        arrives_at timestamptz NOT NULL,
        duration_minutes integer NOT NULL,
        fare_minor bigint NOT NULL,
        currency text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'cancelled')),
        total_seats integer NOT NULL,
        version integer NOT NULL
    )
    """,
    # A route on a day is a handful of rows among 100k schedules: found by this index, then sorted in memory.
    "CREATE INDEX ix_trips_route ON trips (origin_key, destination_key, departs_at) WHERE status = 'active'",
    """
    CREATE TABLE trip_seats (
        schedule_id uuid PRIMARY KEY,
        available_seats integer NOT NULL CHECK (available_seats >= 0),
        -- Inventory's seats_version: moves with every hold, release and sale, apart from the schedule's version.
        seats_version integer NOT NULL
    )
    """,
    """
    CREATE TABLE hotels (
        id uuid PRIMARY KEY,
        owner_id uuid NOT NULL,
        name text NOT NULL,
        city text NOT NULL,
        city_key text NOT NULL,
        address text NOT NULL,
        stars smallint NOT NULL,
        amenities text[] NOT NULL,
        is_active boolean NOT NULL,
        version integer NOT NULL
    )
    """,
    "CREATE INDEX ix_hotels_city ON hotels (city_key) WHERE is_active",
    """
    CREATE TABLE room_types (
        id uuid PRIMARY KEY,
        hotel_id uuid NOT NULL,
        name text NOT NULL,
        capacity integer NOT NULL,
        amenities text[] NOT NULL
    )
    """,
    "CREATE INDEX ix_room_types_hotel ON room_types (hotel_id)",
    """
    CREATE TABLE room_nights (
        room_type_id uuid NOT NULL,
        night date NOT NULL,
        hotel_id uuid NOT NULL,
        total integer NOT NULL,
        available integer NOT NULL CHECK (available >= 0),
        rate_minor bigint NOT NULL,
        currency text NOT NULL,
        version integer NOT NULL,
        PRIMARY KEY (room_type_id, night)
    )
    """,
    """
    CREATE TABLE rebuilds (
        request_id uuid PRIMARY KEY,
        requested_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        -- What inventory announced for it, by kind of event.
        counts jsonb
    )
    """,
]

DOWNGRADE = [
    "DROP TABLE rebuilds",
    "DROP TABLE room_nights",
    "DROP TABLE room_types",
    "DROP TABLE hotels",
    "DROP TABLE trip_seats",
    "DROP TABLE trips",
    "DROP TABLE property_owners",
    "DROP TABLE operators",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
