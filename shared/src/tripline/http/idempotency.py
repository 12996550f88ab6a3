"""``Idempotency-Key`` for unsafe requests, with exactly the semantics of the public contract.

The first request with a key records it as in progress (committed at once, so a concurrent twin sees it);
its response is stored when it finishes and replayed for every identical retry within the retention period.
A 400 or a 5xx is not stored: the client may fix the body, or retry, with the same key.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Table, and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from tripline.auth.access import current_principal
from tripline.http.problems import (
    FieldError,
    Problem,
    idempotency_key_in_use,
    idempotency_key_missing,
    idempotency_key_reused,
    validation_failed,
)
from tripline.timestamps import utcnow

RETENTION = timedelta(hours=24)
# A first request that has not finished after this long is presumed dead; a retry may take the key over.
IN_PROGRESS_LEASE = timedelta(seconds=60)
REPLAYED_HEADERS = ("Content-Type", "Location")
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotentRequest:
    """Who asks, with which key, for what."""

    account_id: str
    key: str
    method: str
    path: str
    body: bytes

    @property
    def fingerprint(self) -> str:
        """Same method, path and body give the same fingerprint."""
        digest = hashlib.sha256()
        for part in (self.method.encode(), self.path.encode(), self.body):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        return digest.hexdigest()


@dataclass(frozen=True)
class StoredResponse:
    """The first response to a key, replayed verbatim."""

    status: int
    headers: dict[str, str]
    body: bytes


class IdempotencyStore:
    """The ``idempotency_requests`` table of one service."""

    def __init__(self, session_factory: sessionmaker[Session], table: Table):
        self._session_factory = session_factory
        self._table = table

    def begin(self, request: IdempotentRequest) -> StoredResponse | None:
        """Claim the key (None: go ahead) or return the stored response; a conflict raises a Problem."""
        now = utcnow()
        with self._session_factory() as session, session.begin():
            if self._claim(session, request, now):
                return None
            row = session.execute(self._select(request).with_for_update()).one()
            if row.fingerprint != request.fingerprint:
                raise idempotency_key_reused()
            if row.state == "completed":
                return StoredResponse(row.response_status, dict(row.response_headers), row.response_body)
            if row.locked_until > now:
                raise idempotency_key_in_use(retry_after_seconds=_seconds_until(row.locked_until, now))
            self._extend_lease(session, request, now)
            return None

    def complete(self, request: IdempotentRequest, response: StoredResponse) -> None:
        """Store the response to replay."""
        with self._session_factory() as session, session.begin():
            session.execute(
                update(self._table)
                .where(self._identity(request))
                .values(
                    state="completed",
                    locked_until=None,
                    completed_at=utcnow(),
                    response_status=response.status,
                    response_headers=response.headers,
                    response_body=response.body,
                )
            )

    def release(self, request: IdempotentRequest) -> None:
        """Forget an unfinished claim, so the key can be used again."""
        with self._session_factory() as session, session.begin():
            session.execute(delete(self._table).where(self._identity(request), self._table.c.state == "in_progress"))

    def _claim(self, session: Session, request: IdempotentRequest, now: datetime) -> bool:
        values: dict[str, Any] = {
            "account_id": request.account_id,
            "key": request.key,
            "method": request.method,
            "path": request.path,
            "fingerprint": request.fingerprint,
            "state": "in_progress",
            "locked_until": now + IN_PROGRESS_LEASE,
            "created_at": now,
            "completed_at": None,
            "response_status": None,
            "response_headers": None,
            "response_body": None,
            "expires_at": now + RETENTION,
        }
        claim = insert(self._table).values(**values)
        # An expired key is as good as unused: take it over in the same statement.
        take_over_expired = claim.on_conflict_do_update(
            index_elements=[self._table.c.account_id, self._table.c.key],
            set_={name: claim.excluded[name] for name in values if name not in ("account_id", "key")},
            where=self._table.c.expires_at < now,
        ).returning(self._table.c.key)
        return session.execute(take_over_expired).first() is not None

    def _extend_lease(self, session: Session, request: IdempotentRequest, now: datetime) -> None:
        session.execute(update(self._table).where(self._identity(request)).values(locked_until=now + IN_PROGRESS_LEASE))

    def _select(self, request: IdempotentRequest) -> Any:
        return select(self._table).where(self._identity(request))

    def _identity(self, request: IdempotentRequest) -> Any:
        return and_(self._table.c.account_id == request.account_id, self._table.c.key == request.key)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def idempotent(view: Callable[..., ResponseReturnValue]) -> Callable[..., Response]:
    """Require an ``Idempotency-Key`` on this view and replay its first response for identical retries."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        request_ = IdempotentRequest(
            account_id=current_principal().sub,
            key=_idempotency_key(),
            method=request.method,
            path=request.path,
            body=request.get_data(cache=True),
        )
        store: IdempotencyStore = current_app.extensions["tripline"].idempotency
        stored = store.begin(request_)
        if stored is not None:
            return _replay(stored)
        try:
            response = _respond(view, args, kwargs)
        except BaseException:
            store.release(request_)
            raise
        if response.status_code == 400 or response.status_code >= 500:
            store.release(request_)
        else:
            store.complete(request_, _stored(response))
        return response

    return wrapper


def _idempotency_key() -> str:
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "")
    if not key:
        raise idempotency_key_missing()
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise validation_failed(
            [FieldError(field=IDEMPOTENCY_KEY_HEADER, message=f"must be 1 to {MAX_KEY_LENGTH} printable characters")]
        )
    return key


def _respond(view: Callable[..., ResponseReturnValue], args: Any, kwargs: Any) -> Response:
    try:
        return current_app.make_response(view(*args, **kwargs))
    except (Problem, HTTPException) as error:
        # Conflicts and not-founds are answers too: rendered now, so they are stored and replayed.
        return current_app.make_response(current_app.handle_user_exception(error))


def _stored(response: Response) -> StoredResponse:
    headers = {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
    return StoredResponse(status=response.status_code, headers=headers, body=response.get_data())


def _replay(stored: StoredResponse) -> Response:
    response = Response(stored.body, status=stored.status, headers=stored.headers)
    response.headers["Idempotent-Replayed"] = "true"
    return response
