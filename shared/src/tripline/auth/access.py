"""Flask side of authentication: who is calling, and may they do this?"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import structlog
from flask import Flask, current_app, g, request

from tripline.auth.tokens import InvalidToken, KeySetUnavailable, Principal, Role, TokenVerifier
from tripline.http.problems import Problem, forbidden, not_found, unauthorized

F = TypeVar("F", bound=Callable[..., Any])

_EXTENSION = "tripline.auth"
_log = structlog.get_logger("tripline.auth")


def install_auth(app: Flask, verifier: TokenVerifier) -> None:
    """Let the app's views authenticate callers with ``verifier``."""
    app.extensions[_EXTENSION] = verifier


def current_principal() -> Principal:
    """The caller named by a valid ``Authorization: Bearer`` token, or a 401 problem."""
    # Verified lazily and once per request: public endpoints never look at the header.
    principal: Principal | None = g.get("principal")
    if principal is not None:
        return principal
    token = _bearer_token()
    verifier: TokenVerifier = current_app.extensions[_EXTENSION]
    try:
        principal = verifier.verify(token)
    except InvalidToken as error:
        raise unauthorized(error.reason, invalid_token=True) from None
    except KeySetUnavailable:
        _log.error("jwks_unavailable", exc_info=True)
        raise Problem(
            503,
            "auth_unavailable",
            "Service unavailable",
            "Tokens cannot be verified right now; retry shortly.",
            headers={"Retry-After": "5"},
        ) from None
    g.principal = principal
    # Every later log line of this request, the access log included, names the caller.
    structlog.contextvars.bind_contextvars(sub=principal.sub, role=principal.role.value)
    return principal


def requires_role(*roles: Role) -> Callable[[F], F]:
    """Only callers with one of ``roles`` get in (401 without a valid token, 403 otherwise)."""
    # Admins are not let in implicitly: views list Role.ADMIN where an admin may act, so a new
    # endpoint never grants admins power by accident. No roles at all: any authenticated caller.
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if allowed and principal.role not in allowed:
                raise forbidden()
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def ensure_visible_to(principal: Principal, owner_sub: str, what: str = "resource") -> None:
    """404 unless ``principal`` owns the resource or is an admin."""
    # A 404, not a 403, so ids cannot be probed for existence; callers pass the same ``what`` as
    # their real not-found path so both answers are byte-for-byte identical.
    if not principal.is_admin and principal.sub != owner_sub:
        raise not_found(what)


def _bearer_token() -> str:
    header = request.headers.get("Authorization")
    if not header:
        raise unauthorized("This endpoint needs an Authorization: Bearer token.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("The Authorization header must be 'Bearer <token>'.", invalid_token=True)
    return token.strip()
