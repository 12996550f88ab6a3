"""Inventory settings, from ``INVENTORY_*`` variables (and the shared ``NATS_URL``, ``AUTH_JWT_*``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tripline.settings import ServiceSettings, load_settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class InventorySettings(ServiceSettings):
    """Inventory's own configuration."""

    model_config = SettingsConfigDict(env_prefix="INVENTORY_", extra="ignore", frozen=True)

    # A hold past expires_at stays confirmable this long, so a payment that started in time can still land.
    hold_grace_seconds: float = Field(default=120, ge=0, le=86_400, validation_alias="HOLD_GRACE_SECONDS")
    # How often the sweeper looks for holds past their grace period.
    hold_sweep_seconds: float = Field(default=5, gt=0, le=3_600, validation_alias="HOLD_SWEEP_SECONDS")


def settings_from_env() -> InventorySettings:
    """The validated settings, or an error naming each bad variable."""
    return load_settings(InventorySettings)
