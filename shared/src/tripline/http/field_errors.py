"""pydantic validation errors as client-facing field errors, located the way the client wrote them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

UNKNOWN_INPUT: Any = object()  # the client's document is not at hand: paths follow pydantic's loc

# pydantic messages that name our classes or its internals; said plainly instead.
_PLAIN_MESSAGES = {
    "model_type": "Input should be an object",
    "model_attributes_type": "Input should be an object",
    "dataclass_type": "Input should be an object",
    "is_instance_of": "Input has the wrong type",
    "is_subclass_of": "Input has the wrong type",
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input, located by a path such as ``items[0].seats``."""

    field: str
    message: str

    def as_member(self) -> dict[str, str]:
        """The JSON object this error becomes inside ``errors``."""
        return {"field": self.field, "message": self.message}


def field_errors(error: ValidationError, data: Any = UNKNOWN_INPUT) -> list[FieldError]:
    """pydantic's errors as ``FieldError``s with client-facing paths such as ``items[0].seats``."""
    return [
        FieldError(_field_path(detail, data), _message(detail))
        for detail in error.errors(include_url=False, include_input=False)
    ]


def _field_path(detail: ErrorDetails, data: Any = UNKNOWN_INPUT) -> str:
    """Walk the error location through the input, skipping the union members pydantic inserts.

    pydantic puts tags (``bus_seats``) and member types (``int``) into ``loc``; they are not
    keys of the client's document, so the path keeps only steps that exist in the input.
    """
    steps: Sequence[int | str] = detail["loc"]
    if data is UNKNOWN_INPUT:
        kept = list(steps)
    else:
        kept = []
        for index, step in enumerate(steps):
            if isinstance(data, list) and isinstance(step, int):
                kept.append(step)
                data = data[step] if 0 <= step < len(data) else None
            elif isinstance(data, dict) and (step in data or index == len(steps) - 1):
                kept.append(step)
                data = data.get(step)
    if detail["type"] in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(detail.get("ctx", {}).get("discriminator", "")).strip("'")
        if discriminator:
            kept.append(discriminator)
    path = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in kept)
    return path.removeprefix(".") or "body"


def _message(detail: ErrorDetails) -> str:
    message = _PLAIN_MESSAGES.get(detail["type"], detail["msg"])
    # Our own validators raise ValueError("..."); pydantic prefixes it with "Value error, ".
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
