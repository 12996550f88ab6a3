"""Request parsing with pydantic: JSON bodies and query strings in, typed models or a 400 out."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from tripline.http.field_errors import UNKNOWN_INPUT, FieldError, field_errors
from tripline.http.problems import (
    Problem,
    bad_request,
    malformed_json,
    unsupported_media_type,
    validation_failed,
)

M = TypeVar("M", bound=BaseModel)

MAX_AMOUNT_MINOR = 10**15  # far above any real price, far below BIGINT even when summed
MAX_CURSOR_LENGTH = 1024
_CURSOR_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


class ApiModel(BaseModel):
    """Base for request and response models: unknown fields rejected, immutable, strict types."""

    # Strict: a JSON "5", 1.0 or true is not an integer, so clients learn their mistake instead of
    # having it silently repaired. In JSON mode strings still become UUIDs, dates and datetimes,
    # because JSON has no other way to send them.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Money(ApiModel):
    """An amount in the currency's minor unit; never negative in a request."""

    amount_minor: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["INR"])]


class PageQuery(ApiModel):
    """``?limit=&cursor=`` for every list endpoint; subclass it to add filters."""

    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str | None, Field(min_length=1, max_length=MAX_CURSOR_LENGTH)] = None


def parse_body(model: type[M]) -> M:
    """The JSON object body validated as ``model``, or a 400/413/415 problem."""
    if not request.is_json:
        raise unsupported_media_type()
    raw = request.get_data(cache=True)  # raises 413 beyond MAX_CONTENT_LENGTH
    if b"\\u0000" in raw:  # only then is the slower walk through the document worth it
        _refuse_nul(_loads_or_unknown(raw))
    try:
        # JSON mode: the fast Rust parser, and strings allowed for UUIDs, dates and datetimes.
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            raise malformed_json() from None
        raise validation_failed(field_errors(error, _loads_or_unknown(raw))) from None


def parse_query(model: type[M]) -> M:
    """The query string validated as ``model``, or a 400 problem naming the parameters."""
    # A repeated parameter becomes a list: right for list fields, a clear error for scalar ones.
    params: dict[str, str | list[str]] = {
        name: values[0] if len(values) == 1 else values for name, values in request.args.lists()
    }
    _refuse_nul(params)
    try:
        # Lax mode: every query value is a string, so "20" must be allowed to become 20.
        return model.model_validate(params, strict=False)
    except ValidationError as error:
        raise validation_failed(field_errors(error, params)) from None


def ensure_platform_currency(money: Money, currency: str, *, field: str = "amount") -> None:
    """Reject money in any currency but the platform's (400 ``unsupported_currency``)."""
    if money.currency != currency:
        raise bad_request(
            "unsupported_currency",
            f"Only {currency} is accepted.",
            [FieldError(f"{field}.currency", f"Currency must be {currency}")],
        )


def encode_cursor(position: Mapping[str, Any]) -> str:
    """An opaque cursor for a keyset position (urlsafe base64 of compact JSON)."""
    document = json.dumps(dict(position), separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The keyset position inside a cursor, or 400 ``invalid_cursor``."""
    # Opaque, not signed: a client that edits a cursor only moves within data it may see anyway,
    # because every list query still filters by the caller.
    if len(cursor) > MAX_CURSOR_LENGTH or not _CURSOR_ALPHABET.fullmatch(cursor):
        raise _invalid_cursor()
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _invalid_cursor() from None
    if not isinstance(position, dict):
        raise _invalid_cursor()
    return position


def decode_cursor_as(model: type[M], cursor: str) -> M:
    """The keyset position inside a cursor, validated as ``model``, or 400 ``invalid_cursor``."""
    try:
        return model.model_validate(decode_cursor(cursor))
    except ValidationError:
        raise _invalid_cursor() from None


def _invalid_cursor() -> Problem:
    return bad_request(
        "invalid_cursor",
        "The cursor is not one this API issued.",
        [FieldError("cursor", "Invalid cursor")],
    )


def _refuse_nul(document: Any) -> None:
    """400 for text holding a NUL character: PostgreSQL cannot store it, and no real input needs it."""
    fields = _fields_with_nul(document)
    if fields:
        raise validation_failed([FieldError(field, "Text must not contain NUL characters") for field in fields])


def _fields_with_nul(document: Any) -> list[str]:
    # A walk with a list of its own, not recursion: a body of thousands of nested arrays fits in 64 KiB.
    found: list[str] = []
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and "\x00" in value:
            found.append(path or "body")
        elif isinstance(value, list):
            pending.extend(reversed([(f"{path}[{n}]", item) for n, item in enumerate(value)]))
        elif isinstance(value, dict):
            if any("\x00" in str(key) for key in value):
                found.append(path or "body")
            pending.extend(reversed([(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]))
    return found


def _loads_or_unknown(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return UNKNOWN_INPUT
