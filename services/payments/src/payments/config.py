"""Payments settings, from ``PAYMENTS_*`` variables (and the shared ``NATS_URL``, ``AUTH_JWT_*``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tripline.settings import ServiceSettings, load_settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class PaymentsSettings(ServiceSettings):
    """Payments' own configuration."""

    model_config = SettingsConfigDict(env_prefix="PAYMENTS_", extra="ignore", frozen=True)

    # A top-up still pending this long after it was written down lost its request (a crash between the charge
    # and the commit); the worker finishes it. Far above any request's lifetime, so it never races a live one.
    top_up_recovery_seconds: float = Field(default=300, ge=60, le=86_400)
    # How often the worker looks for such top-ups.
    top_up_recovery_check_seconds: float = Field(default=30, gt=0, le=3_600)


def settings_from_env() -> PaymentsSettings:
    """The validated settings, or an error naming each bad variable."""
    return load_settings(PaymentsSettings)
