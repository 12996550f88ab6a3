"""``Idempotency-Key`` for unsafe requests, with exactly the semantics of the public contract.

The first request with a key records it as in progress (committed at once, so a concurrent twin sees it);
its response is stored when it finishes and replayed for every identical retry within the retention period.
A 400 (or a 413 or 415: input the view could not read) or a 5xx is not stored: the client may fix the request,
or retry, with the same key.

The record is a cache of the response, written after the view's own transaction. A crash between the two, or a
first request that outlives its lease, lets a retry run the view again, so a view behind ``@idempotent`` makes its
effect safe to repeat: it derives the new resource's id with ``idempotent_resource_id`` (a retry finds the row it
already created) or relies on a unique constraint on the key. Each claim has its own token, so a first request that
finishes after a retry took its key over cannot overwrite or delete the retry's record.
"""

from __future__ import annotations

import functools
import hashlib
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Response, current_app, g, request
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
# A first request that has not finished after this long is presumed dead; a retry may take the key over. Views
# behind @idempotent are safe to run again, so the lease only spares a retry from duplicating work in progress:
# short, so a client whose first request died with its server waits seconds for an answer, not a minute.
IN_PROGRESS_LEASE = timedelta(seconds=10)
REPLAYED_HEADERS = ("Content-Type", "Location")
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
RESOURCE_ID_NAMESPACE = uuid.UUID("6f1c6d3e-2b7a-4c55-9a59-3c1d8e2f7b10")
MAX_KEY_LENGTH = 255
# Input the view could not read (invalid, too large, not JSON) is not an answer to keep: the client may fix the
# request and send it again under the same key.
UNREADABLE_INPUT = frozenset({400, 413, 415})


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
class Claim:
    """This request holds the key; only the holder of ``token`` may complete or release it."""

    token: uuid.UUID


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

    def begin(self, request: IdempotentRequest) -> Claim | StoredResponse:
        """Claim the key, or return the stored response; a conflicting request raises a Problem."""
        now = utcnow()
        claim = Claim(uuid.uuid4())
        with self._session_factory() as session, session.begin():
            if self._claim(session, request, claim, now):
                return claim
            row = session.execute(self._select(request).with_for_update()).one()
            if row.fingerprint != request.fingerprint:
                raise idempotency_key_reused()
            if row.state == "completed":
                return StoredResponse(row.response_status, dict(row.response_headers), row.response_body)
            if row.locked_until > now:
                raise idempotency_key_in_use(retry_after_seconds=_seconds_until(row.locked_until, now))
            self._take_over(session, request, claim, now)
            return claim

    def complete(self, request: IdempotentRequest, claim: Claim, response: StoredResponse) -> None:
        """Store the response to replay (unless another request has taken the key over meanwhile)."""
        with self._session_factory() as session, session.begin():
            session.execute(
                update(self._table)
                .where(self._identity(request), self._table.c.claim_token == claim.token)
                .values(
                    state="completed",
                    locked_until=None,
                    completed_at=utcnow(),
                    response_status=response.status,
                    response_headers=response.headers,
                    response_body=response.body,
                )
            )

    def release(self, request: IdempotentRequest, claim: Claim) -> None:
        """Forget an unfinished claim, so the key can be used again."""
        with self._session_factory() as session, session.begin():
            session.execute(
                delete(self._table).where(
                    self._identity(request),
                    self._table.c.claim_token == claim.token,
                    self._table.c.state == "in_progress",
                )
            )

    def _claim(self, session: Session, request: IdempotentRequest, claim: Claim, now: datetime) -> bool:
        values: dict[str, Any] = {
            "account_id": request.account_id,
            "key": request.key,
            "method": request.method,
            "path": request.path,
            "fingerprint": request.fingerprint,
            "state": "in_progress",
            "claim_token": claim.token,
            "locked_until": now + IN_PROGRESS_LEASE,
            "created_at": now,
            "completed_at": None,
            "response_status": None,
            "response_headers": None,
            "response_body": None,
            "expires_at": now + RETENTION,
        }
        fresh = insert(self._table).values(**values)
        # An expired key is as good as unused: take it over in the same statement.
        take_over_expired = fresh.on_conflict_do_update(
            index_elements=[self._table.c.account_id, self._table.c.key],
            set_={name: fresh.excluded[name] for name in values if name not in ("account_id", "key")},
            where=self._table.c.expires_at < now,
        ).returning(self._table.c.key)
        return session.execute(take_over_expired).first() is not None

    def _take_over(self, session: Session, request: IdempotentRequest, claim: Claim, now: datetime) -> None:
        session.execute(
            update(self._table)
            .where(self._identity(request))
            .values(claim_token=claim.token, locked_until=now + IN_PROGRESS_LEASE)
        )

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
        claim = store.begin(request_)
        if isinstance(claim, StoredResponse):
            return _replay(claim)
        g.idempotency_key = request_.key
        try:
            response = _respond(view, args, kwargs)
        except BaseException:
            store.release(request_, claim)
            raise
        if response.status_code in UNREADABLE_INPUT or response.status_code >= 500:
            store.release(request_, claim)
        else:
            store.complete(request_, claim, _stored(response))
        return response

    return wrapper


def idempotent_resource_id(kind: str) -> uuid.UUID:
    """The id of the resource this idempotent request creates: the same for every retry of the same key."""
    return uuid.uuid5(RESOURCE_ID_NAMESPACE, f"{kind}:{current_principal().sub}:{g.idempotency_key}")


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
