"""Tripline's local development stack: PostgreSQL, NATS and Caddy from wheels, services under honcho."""

from __future__ import annotations

# The four services, in the order they are migrated, seeded and listed.
SERVICES: tuple[str, ...] = ("inventory", "bookings", "payments", "search")

__all__ = ["SERVICES"]
