"""Bookings settings, from ``BOOKINGS_*`` variables (and the shared ``NATS_URL``, ``AUTH_JWT_*``)."""

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from tripline.settings import ServiceSettings, load_settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class BookingsSettings(ServiceSettings):
    """Bookings' own configuration."""

    model_config = SettingsConfigDict(env_prefix="BOOKINGS_", extra="ignore", frozen=True)


def settings_from_env() -> BookingsSettings:
    """The validated settings, or an error naming each bad variable."""
    return load_settings(BookingsSettings)
