"""Bearer tokens: who is calling (``Principal``) and how their JWT is verified.

Framework-free, so workers and CLIs can use it. Verification follows RFC 8725 (JWT best current
practice): the accepted algorithm is fixed by configuration, never chosen by the token.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.exceptions import InvalidSubjectError

from tripline.settings import AuthSettings

MAX_SUB_LENGTH = 64
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key must be at least as long as the hash
MAX_TOKEN_LENGTH = 8192  # far above any real token; refuses to parse megabytes of junk
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "role"]
_ASYMMETRIC = ["RS256", "ES256"]


class Role(StrEnum):
    """What kind of account is calling; authorization decisions start here."""

    CUSTOMER = "customer"
    OPERATOR = "operator"
    OWNER = "owner"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller: account id and role."""

    sub: str
    role: Role

    @property
    def is_admin(self) -> bool:
        """Admins see and act on every account's resources."""
        return self.role is Role.ADMIN


_ROLES = frozenset(role.value for role in Role)


class InvalidToken(Exception):
    """The token was rejected; ``reason`` is safe to show the client (it never quotes the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeySetUnavailable(Exception):
    """The identity provider's JWKS could not be fetched: our fault, not the caller's."""


class TokenVerifier:
    """Verifies bearer tokens: HS256 in development, RS256/ES256 with a public key or JWKS."""

    def __init__(self, settings: AuthSettings, *, key_set: jwt.PyJWKClient | None = None) -> None:
        """Pick the mode from ``settings`` (``key_set`` replaces the JWKS client, e.g. in tests)."""
        self._settings = settings
        self._key_set: jwt.PyJWKClient | None = None
        self._key: Any = None
        self._algorithms: list[str]
        if settings.jwks_url or key_set is not None:
            # Nothing is fetched until the first token arrives; keys are then cached.
            self._key_set = key_set or jwt.PyJWKClient(
                settings.jwks_url or "", cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS
            )
            # Each JWK is bound to one algorithm by its key type; PyJWT refuses a token claiming another.
            self._algorithms = _ASYMMETRIC
        elif (pem := _public_key_pem(settings)) is not None:
            self._key, algorithm = _load_public_key(pem)
            self._algorithms = [algorithm]
        else:
            self._key = _hmac_secret(settings)
            self._algorithms = ["HS256"]

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The signature algorithms this verifier accepts."""
        return tuple(self._algorithms)

    def verify(self, token: str) -> Principal:
        """The principal a valid token names, or ``InvalidToken`` saying why not."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("The bearer token is malformed.")
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=self._algorithms,
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(_reason(error)) from None
        return _principal(claims)

    def _signing_key(self, token: str) -> Any:
        if self._key_set is None:
            return self._key
        try:
            return self._key_set.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as error:
            raise KeySetUnavailable(str(error)) from error
        except jwt.PyJWKClientError:
            raise InvalidToken("The token is signed with an unknown key.") from None


def issue_dev_token(sub: str, role: str, ttl_seconds: int = 3600, settings: AuthSettings | None = None) -> str:
    """An HS256 development token; refused when a real identity provider is configured."""
    settings = settings or AuthSettings()
    if _public_key_pem(settings) is not None or settings.jwks_url:
        raise RuntimeError(
            "development tokens are disabled: AUTH_JWT_PUBLIC_KEY or AUTH_JWT_JWKS_URL is set, "
            "so tokens must come from the identity provider"
        )
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    _check_sub(sub, ValueError)
    now = int(time.time())
    claims = {
        "sub": sub,
        "role": Role(role).value,  # ValueError on an unknown role
        "iss": settings.issuer,
        "aud": settings.audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, _hmac_secret(settings), algorithm="HS256")


def _principal(claims: dict[str, Any]) -> Principal:
    sub, role = claims["sub"], claims["role"]
    _check_sub(sub, InvalidToken)
    if not isinstance(role, str) or role not in _ROLES:
        raise InvalidToken("The token's role is not one this API knows.")
    return Principal(sub=sub, role=Role(role))


def _check_sub(sub: object, error: type[Exception]) -> None:
    # Printable only: a subject is stored as text (which cannot hold a NUL) and shown in paths and logs.
    if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUB_LENGTH or not sub.isprintable():
        raise error(f"The subject must be a non-empty printable string of at most {MAX_SUB_LENGTH} characters.")


def _hmac_secret(settings: AuthSettings) -> bytes:
    secret = settings.secret.get_secret_value().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"AUTH_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
    return secret


def _public_key_pem(settings: AuthSettings) -> str | None:
    # An exported-but-empty AUTH_JWT_PUBLIC_KEY= means "not configured", not "a broken key".
    pem = settings.public_key.get_secret_value().strip() if settings.public_key is not None else ""
    return pem or None


def _load_public_key(pem: str) -> tuple[Any, str]:
    """The key and the one algorithm it may verify: RSA → RS256, P-256 → ES256."""
    key = serialization.load_pem_public_key(pem.encode())
    if isinstance(key, rsa.RSAPublicKey):
        return key, "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key, "ES256"
    raise ValueError("AUTH_JWT_PUBLIC_KEY must be an RSA or P-256 EC public key in PEM form")


# Most specific first: ExpiredSignatureError and friends subclass InvalidTokenError.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "The token has expired."),
    (jwt.ImmatureSignatureError, "The token is not valid yet."),
    (jwt.InvalidAudienceError, "The token is meant for another audience."),
    (jwt.InvalidIssuerError, "The token comes from an issuer this API does not trust."),
    (jwt.InvalidAlgorithmError, "The token's signature algorithm is not accepted."),
    (jwt.InvalidSignatureError, "The token's signature is invalid."),
    (jwt.InvalidIssuedAtError, "The token's issued-at time is invalid."),
    (InvalidSubjectError, "The token's subject is invalid."),
    (jwt.DecodeError, "The bearer token is malformed."),
)


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"The token has no {error.claim} claim."
    for kind, reason in _REASONS:
        if isinstance(error, kind):
            return reason
    return "The token is invalid."
