"""Value objects that travel inside message payloads."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class MessageValue(BaseModel):
    """Base of nested payload values: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(MessageValue):
    """An amount in the currency's minor unit (never a float)."""

    amount_minor: Annotated[StrictInt, Field(ge=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
