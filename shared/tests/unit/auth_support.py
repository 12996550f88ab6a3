"""Development tokens for the auth tests, signed the way ``tripline.auth`` verifies them."""

from __future__ import annotations

import time
from typing import Any

import jwt
from pydantic import SecretStr

from tripline.settings import AuthSettings

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
DEV = AuthSettings(secret=SecretStr(SECRET), issuer="tripline-dev", audience="tripline")


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": "alice",
        "role": "customer",
        "iss": "tripline-dev",
        "aud": "tripline",
        "iat": now,
        "exp": now + 600,
    }
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def hs256(secret: str | bytes = SECRET, **changes: Any) -> str:
    return jwt.encode(claims(**changes), secret, algorithm="HS256")
