"""Operators and property owners: registering, reviewing and reading suppliers, one transaction per use case.

Both kinds share one table shape, one approval lifecycle and one audit trail, so every use case takes the
``SupplierKind`` it acts on instead of being written twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from inventory.adapters.tables import approval_audit, operators, property_owners
from inventory.domain.approvals import ApprovalStatus, Decision, InvalidTransition, Review, review
from inventory.service_layer.announcements import supplier_status_changed
from inventory.service_layer.errors import NotVisible, violates_unique, visible_to
from tripline.auth.tokens import Principal
from tripline.messaging.outbox import OutboxUnitOfWork

Row = Mapping[str, Any]


@dataclass(frozen=True)
class SupplierKind:
    """Which kind of supplier a use case acts on: its audit/event name, its table and how people call it."""

    name: str
    table: Table
    noun: str
    one_per_account: str  # the unique constraint on account_id, which a second supplier of the account breaks


OPERATOR = SupplierKind("operator", operators, "operator", one_per_account="uq_operators_account_id")
OWNER = SupplierKind("owner", property_owners, "property owner", one_per_account="uq_property_owners_account_id")


class AlreadyRegistered(Exception):
    """The account already has a supplier of this kind (one per account); ``what`` names the kind."""

    def __init__(self, what: str):
        super().__init__(f"the account already has a {what}")
        self.what = what


class ReviewRefused(Exception):
    """The admin's decision is not legal from the supplier's current status; nothing was changed."""

    def __init__(self, what: str, refused: InvalidTransition):
        super().__init__(f"{refused} ({what})")
        self.what = what
        self.current = refused.current
        self.decision = refused.decision


@dataclass(frozen=True)
class Position:
    """A keyset position in the review queue, ordered by ``(submitted_at, id)``."""

    submitted_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class ReviewQueuePage:
    """One page of suppliers; ``has_more`` when a row follows the last one."""

    items: Sequence[Row]
    has_more: bool


@dataclass(frozen=True)
class AuditTrail:
    """A supplier and its audit trail, oldest first."""

    supplier: Row
    entries: Sequence[Row]


def register_supplier(uow: OutboxUnitOfWork, kind: SupplierKind, account_id: str, name: str, email: str) -> Row:
    """Submit the account's supplier for review: pending, audited and announced in one transaction."""
    now = uow.clock()
    with uow:
        try:
            supplier = _insert_pending(uow, kind, account_id, name, email, now)
        except IntegrityError as error:
            if violates_unique(error, kind.one_per_account):  # racing requests included
                raise AlreadyRegistered(kind.noun) from None
            raise
        _audit(uow, kind, supplier["id"], None, ApprovalStatus.PENDING, account_id, None, now)
        uow.outbox.add(supplier_status_changed(kind.name, supplier))
        uow.commit()
    return supplier


def review_supplier(
    uow: OutboxUnitOfWork,
    kind: SupplierKind,
    supplier_id: uuid.UUID,
    decision: Decision,
    reviewer: str,
    note: str | None,
) -> Row:
    """Apply an admin's decision, or raise ``NotVisible`` / ``ReviewRefused`` with nothing changed."""
    with uow:
        current = _locked(uow, kind, supplier_id)
        try:
            outcome = review(ApprovalStatus(current["approval_status"]), decision, reviewer, note, uow.clock())
        except InvalidTransition as refused:
            raise ReviewRefused(kind.noun, refused) from None
        supplier = _record_review(uow, kind, supplier_id, outcome)
        _audit(uow, kind, supplier_id, outcome.from_status, outcome.to_status, reviewer, note, outcome.at)
        uow.outbox.add(supplier_status_changed(kind.name, supplier))
        uow.commit()
    return supplier


def find_supplier(uow: OutboxUnitOfWork, kind: SupplierKind, supplier_id: uuid.UUID, viewer: Principal) -> Row:
    """The supplier, if it is the viewer's own or the viewer is an admin."""
    with uow:
        return _visible(uow, kind, supplier_id, viewer)


def list_suppliers(
    uow: OutboxUnitOfWork, kind: SupplierKind, status: ApprovalStatus | None, after: Position | None, limit: int
) -> ReviewQueuePage:
    """Suppliers in submission order (optionally of one status), starting after ``after``."""
    table = kind.table
    query = select(table).order_by(table.c.submitted_at, table.c.id).limit(limit + 1)
    if status is not None:
        query = query.where(table.c.approval_status == status.value)
    if after is not None:
        query = query.where(tuple_(table.c.submitted_at, table.c.id) > tuple_(after.submitted_at, after.id))
    with uow:
        rows = [dict(row) for row in uow.session.execute(query).mappings()]
    return ReviewQueuePage(items=rows[:limit], has_more=len(rows) > limit)


def audit_trail(uow: OutboxUnitOfWork, kind: SupplierKind, supplier_id: uuid.UUID, viewer: Principal) -> AuditTrail:
    """The supplier with every approval decision about it, oldest first, if the viewer may see it."""
    with uow:
        supplier = _visible(uow, kind, supplier_id, viewer)
        entries = uow.session.execute(
            select(approval_audit)
            .where(approval_audit.c.supplier_kind == kind.name, approval_audit.c.supplier_id == supplier_id)
            .order_by(approval_audit.c.id)
        ).mappings()
        return AuditTrail(supplier=supplier, entries=[dict(entry) for entry in entries])


def _insert_pending(
    uow: OutboxUnitOfWork, kind: SupplierKind, account_id: str, name: str, email: str, now: datetime
) -> Row:
    statement = (
        insert(kind.table)
        .values(
            id=uuid.uuid4(),
            account_id=account_id,
            name=name,
            contact_email=email,
            approval_status=ApprovalStatus.PENDING.value,
            submitted_at=now,
            version=1,
        )
        .returning(*kind.table.c)
    )
    return dict(uow.session.execute(statement).mappings().one())


def _visible(uow: OutboxUnitOfWork, kind: SupplierKind, supplier_id: uuid.UUID, viewer: Principal) -> Row:
    row = uow.session.execute(select(kind.table).where(kind.table.c.id == supplier_id)).mappings().first()
    return dict(visible_to(viewer, row, kind.noun))


def _locked(uow: OutboxUnitOfWork, kind: SupplierKind, supplier_id: uuid.UUID) -> Row:
    # FOR UPDATE serialises concurrent reviews: the second one decides from the first one's outcome.
    statement = select(kind.table).where(kind.table.c.id == supplier_id).with_for_update()
    row = uow.session.execute(statement).mappings().first()
    if row is None:
        raise NotVisible(kind.noun)
    return dict(row)


def _record_review(uow: OutboxUnitOfWork, kind: SupplierKind, supplier_id: uuid.UUID, outcome: Review) -> Row:
    table = kind.table
    statement = (
        update(table)
        .where(table.c.id == supplier_id)
        .values(
            {
                table.c.approval_status: outcome.to_status.value,
                table.c[outcome.stamped_column]: outcome.at,  # earlier stamps stay: they are history too
                table.c.reviewed_by: outcome.reviewer,
                table.c.review_note: outcome.note,
                table.c.version: table.c.version + 1,
            }
        )
        .returning(*table.c)
    )
    return dict(uow.session.execute(statement).mappings().one())


def _audit(
    uow: OutboxUnitOfWork,
    kind: SupplierKind,
    supplier_id: uuid.UUID,
    from_status: ApprovalStatus | None,
    to_status: ApprovalStatus,
    actor: str,
    reason: str | None,
    at: datetime,
) -> None:
    uow.session.execute(
        insert(approval_audit).values(
            supplier_kind=kind.name,
            supplier_id=supplier_id,
            from_status=from_status.value if from_status is not None else None,
            to_status=to_status.value,
            actor=actor,
            reason=reason,
            at=at,  # the same instant as the stamped column, so the two always agree
        )
    )
