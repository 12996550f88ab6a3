"""Bookings' tables (its database only)."""

from sqlalchemy import Column, DateTime, Integer, Table, Text, Uuid, func, text

from tripline.db import new_metadata
from tripline.plumbing import define_plumbing_tables

metadata = new_metadata()
plumbing = define_plumbing_tables(metadata)

messaging_probes = Table(
    "messaging_probes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("target", Text, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("answered_at", DateTime(timezone=True)),
    # Distinct answers received: more than one would mean the target handled the probe twice.
    Column("answers", Integer, nullable=False, server_default=text("0")),
)
