"""Settings read once from the environment, validated, with secrets kept out of reprs and logs."""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound=BaseSettings)

DEV_JWT_SECRET = "tripline-development-secret-change-me"  # noqa: S105 - only valid for local stacks


class AuthSettings(BaseSettings):
    """How bearer tokens are verified (``AUTH_JWT_*``)."""

    model_config = SettingsConfigDict(env_prefix="AUTH_JWT_", extra="ignore", frozen=True)

    secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    issuer: str = "tripline-dev"
    audience: str = "tripline"
    # Production: a PEM public key or a JWKS URL; either switches verification to RS256/ES256.
    public_key: SecretStr | None = None
    jwks_url: str | None = None
    leeway_seconds: int = Field(default=30, ge=0, le=300)


class MessagingSettings(BaseSettings):
    """NATS connection and JetStream tuning shared by every worker."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias="NATS_URL")
    # Stream settings are configurable so tests can shorten the duplicate window.
    nats_duplicate_window_seconds: float = Field(default=600, ge=1, validation_alias="NATS_DUPLICATE_WINDOW_SECONDS")
    nats_stream_replicas: int = Field(default=1, ge=1, le=5, validation_alias="NATS_STREAM_REPLICAS")
    nats_ack_wait_seconds: float = Field(default=30, gt=0, validation_alias="NATS_ACK_WAIT_SECONDS")
    nats_max_deliver: int = Field(default=8, ge=2, validation_alias="NATS_MAX_DELIVER")
    relay_batch_size: int = Field(default=200, ge=1, le=5000, validation_alias="OUTBOX_RELAY_BATCH_SIZE")
    relay_poll_seconds: float = Field(default=1.0, gt=0, validation_alias="OUTBOX_RELAY_POLL_SECONDS")
    publish_ack_timeout_seconds: float = Field(default=5.0, gt=0, validation_alias="NATS_PUBLISH_ACK_TIMEOUT_SECONDS")
    # The worker has no HTTP API; with a port set it serves /metrics for Prometheus.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535, validation_alias="WORKER_METRICS_PORT")
    worker_metrics_address: str = Field(default="127.0.0.1", validation_alias="WORKER_METRICS_ADDRESS")
    dead_letter_watch_seconds: float = Field(default=30.0, gt=0, validation_alias="DLQ_WATCH_SECONDS")


class ServiceSettings(BaseSettings):
    """Settings common to every service; each service subclasses it with its own env prefix."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: SecretStr
    platform_currency: str = Field(default="INR", validation_alias="PLATFORM_CURRENCY")
    # Unset: one connection per web thread (WEB_THREADS), so a busy web server never opens and closes connections
    # beyond a smaller pool on every request.
    db_pool_size: int | None = Field(default=None, ge=1, le=100)

    @field_validator("database_url", mode="before")
    @classmethod
    def _use_psycopg3(cls, value: object) -> object:
        """Accept plain ``postgresql://`` URLs and pin them to the psycopg 3 driver."""
        if isinstance(value, str):
            for prefix in ("postgresql://", "postgres://"):
                if value.startswith(prefix):
                    return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("platform_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError("PLATFORM_CURRENCY must be an ISO 4217 code such as INR")
        return value


class SettingsError(RuntimeError):
    """The environment does not configure the service correctly; the message names each variable."""


def load_settings(settings_class: type[S]) -> S:
    """Read and validate settings once, failing with the environment variable names at fault."""
    from pydantic import ValidationError

    try:
        return settings_class()
    except ValidationError as error:
        prefix = str(settings_class.model_config.get("env_prefix", ""))
        # A rule across several variables has no location; its message names the variables itself.
        problems = [
            f"{_variable_name(prefix, settings_class, str(item['loc'][0]))}: {item['msg']}"
            if item["loc"]
            else item["msg"]
            for item in error.errors(include_url=False, include_input=False)
        ]
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None


def _variable_name(prefix: str, settings_class: type[BaseSettings], field_name: str) -> str:
    field = settings_class.model_fields.get(field_name)
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias
    return (prefix + field_name).upper()
