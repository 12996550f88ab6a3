"""Bookings settings, from ``BOOKINGS_*`` and ``BOOKING_*`` variables (and the shared ``NATS_URL``, ``AUTH_JWT_*``)."""

from datetime import timedelta
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from bookings.domain.refund_policy import RefundPolicy
from tripline.settings import ServiceSettings, load_settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class BookingsSettings(ServiceSettings):
    """Bookings' own configuration."""

    model_config = SettingsConfigDict(env_prefix="BOOKINGS_", extra="ignore", frozen=True, populate_by_name=True)

    # How long a reserved booking waits for payment (inventory holds its items exactly as long).
    hold_ttl_seconds: int = Field(default=600, ge=10, le=86_400, validation_alias="BOOKING_HOLD_TTL_SECONDS")
    # How long a booking may wait for another service's answer before it counts as stuck.
    step_timeout_seconds: float = Field(default=60, ge=1, le=86_400, validation_alias="BOOKING_STEP_TIMEOUT_SECONDS")
    # How often the worker expires unpaid bookings, completes finished ones and counts stuck ones.
    timer_seconds: float = Field(default=1, gt=0, le=3_600, validation_alias="BOOKING_TIMER_SECONDS")
    # The cancellation refund policy: everything back up to the first window, a share up to the second, then none.
    full_refund_hours: float = Field(default=24, ge=0, le=8_760, validation_alias="BOOKING_FULL_REFUND_HOURS")
    partial_refund_hours: float = Field(default=2, ge=0, le=8_760, validation_alias="BOOKING_PARTIAL_REFUND_HOURS")
    partial_refund_percent: int = Field(default=50, ge=0, le=100, validation_alias="BOOKING_PARTIAL_REFUND_PERCENT")

    @model_validator(mode="after")
    def _windows_in_order(self) -> Self:
        if self.partial_refund_hours > self.full_refund_hours:
            raise ValueError("BOOKING_PARTIAL_REFUND_HOURS must not exceed BOOKING_FULL_REFUND_HOURS")
        return self

    @property
    def refund_policy(self) -> RefundPolicy:
        """The cancellation policy these settings describe."""
        return RefundPolicy(
            full_before=timedelta(hours=self.full_refund_hours),
            partial_before=timedelta(hours=self.partial_refund_hours),
            partial_percent=self.partial_refund_percent,
        )


def settings_from_env() -> BookingsSettings:
    """The validated settings, or an error naming each bad variable."""
    return load_settings(BookingsSettings)
