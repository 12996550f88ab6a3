"""``/v1/operators`` and ``/v1/property-owners``: one set of routes, registered once per supplier kind."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from flask import Blueprint, Response, request
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints

from inventory.config import InventorySettings
from inventory.domain.approvals import ApprovalStatus, Decision
from inventory.entrypoints.refusals import answer_refusals
from inventory.service_layer import suppliers
from inventory.service_layer.suppliers import OPERATOR, OWNER, Position, Row, SupplierKind
from tripline.auth.access import current_principal, requires_role
from tripline.auth.tokens import Role
from tripline.http.openapi import documented
from tripline.http.responses import Timestamp, answer, created
from tripline.http.validation import ApiModel, PageQuery, decode_cursor_as, encode_cursor, parse_body, parse_query
from tripline.messaging.outbox import OutboxUnitOfWork
from tripline.timestamps import rfc3339

UnitOfWorkFactory = Callable[[], OutboxUnitOfWork]

# Pragmatic, not RFC 5322: one @, a plausible local part, a dotted domain of DNS labels. Whether the mailbox
# exists is for a confirmation mail to find out, not for a regex.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value) or ".." in value or value.startswith(".") or ".@" in value:
        raise ValueError("Not a valid email address")
    return value


Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Field(examples=["Konkan Travels"])
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(_email),
    Field(examples=["ops@konkan.example"]),
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class SupplierRegistration(ApiModel):
    """The business an operator or property owner account submits for review."""

    name: Name
    contact_email: Email


class ApprovalNote(ApiModel):
    """An approval, optionally with a note for the supplier."""

    note: Note | None = None


class ApprovalReason(ApiModel):
    """A rejection or suspension, always with its reason."""

    reason: Reason


class SupplierListQuery(PageQuery):
    """The review queue, optionally of one approval status."""

    approval_status: ApprovalStatus | None = None


class Supplier(ApiModel):
    """An operator or property owner and where it stands; ``reviewed_by`` extends the contract."""

    id: uuid.UUID
    account_id: str
    name: str
    contact_email: str
    approval_status: ApprovalStatus
    submitted_at: Timestamp
    approved_at: Timestamp | None
    rejected_at: Timestamp | None
    suspended_at: Timestamp | None
    review_note: str | None
    reviewed_by: str | None


class SupplierPage(ApiModel):
    """One page of suppliers."""

    items: list[Supplier]
    next_cursor: str | None


class ApprovalEntry(ApiModel):
    """One approval decision: ``from`` is null for the submission itself."""

    from_status: ApprovalStatus | None = Field(alias="from")
    to: ApprovalStatus
    at: Timestamp
    actor: str
    reason: str | None


class ApprovalHistory(ApiModel):
    """Every approval decision about a supplier, oldest first."""

    items: list[ApprovalEntry]


class _CursorPosition(BaseModel):
    submitted_at: AwareDatetime
    id: uuid.UUID


@dataclass(frozen=True)
class SupplierRoutes:
    """Where and for whom one supplier kind's routes live."""

    kind: SupplierKind
    role: Role
    url_prefix: str
    blueprint_name: str
    tag: str


ROUTES = (
    SupplierRoutes(OPERATOR, Role.OPERATOR, "/v1/operators", "operators", "operators"),
    SupplierRoutes(OWNER, Role.OWNER, "/v1/property-owners", "property_owners", "property owners"),
)
_REVIEW_BODIES: dict[Decision, type[ApiModel]] = {
    Decision.APPROVE: ApprovalNote,
    Decision.REJECT: ApprovalReason,
    Decision.SUSPEND: ApprovalReason,
}


def suppliers_blueprint(unit_of_work: UnitOfWorkFactory, settings: InventorySettings) -> Blueprint:
    """The suppliers routes: operators and property owners, each under its own nested blueprint."""
    parent = Blueprint("suppliers", __name__)
    answer_refusals(parent)  # nested blueprints' views are answered by their parent's handlers too
    for routes in ROUTES:
        parent.register_blueprint(_kind_blueprint(routes, unit_of_work))
    return parent


def _kind_blueprint(routes: SupplierRoutes, unit_of_work: UnitOfWorkFactory) -> Blueprint:
    blueprint = Blueprint(routes.blueprint_name, __name__, url_prefix=routes.url_prefix)
    _add_submission_routes(blueprint, routes, unit_of_work)
    _add_reading_routes(blueprint, routes, unit_of_work)
    for decision in Decision:
        blueprint.add_url_rule(
            f"/<uuid:supplier_id>/{decision.value}",
            endpoint=decision.value,
            view_func=_review_view(routes, decision, unit_of_work),
            methods=["POST"],
        )
    return blueprint


def _add_submission_routes(blueprint: Blueprint, routes: SupplierRoutes, unit_of_work: UnitOfWorkFactory) -> None:
    kind, tags = routes.kind, (routes.tag,)

    @blueprint.post("")
    @documented(
        f"Submit the caller's {kind.noun} for approval (one per account)",
        body=SupplierRegistration,
        responses={201: Supplier, 409: None},
        tags=tags,
    )
    @requires_role(routes.role)
    def register() -> Response:
        registration = parse_body(SupplierRegistration)
        account_id = current_principal().sub
        supplier = suppliers.register_supplier(
            unit_of_work(), kind, account_id, registration.name, registration.contact_email
        )
        return created(_supplier(supplier), f"{routes.url_prefix}/{supplier['id']}")

    @blueprint.get("")
    @documented(
        f"List {kind.noun}s in submission order, optionally by approval status (admin)",
        query=SupplierListQuery,
        responses={200: SupplierPage},
        tags=tags,
    )
    @requires_role(Role.ADMIN)
    def review_queue() -> Response:
        query = parse_query(SupplierListQuery)
        after = _position(query.cursor) if query.cursor is not None else None
        page = suppliers.list_suppliers(unit_of_work(), kind, query.approval_status, after, query.limit)
        next_cursor = _cursor_after(page.items[-1]) if page.has_more else None
        return answer(SupplierPage(items=[_supplier(item) for item in page.items], next_cursor=next_cursor))


def _add_reading_routes(blueprint: Blueprint, routes: SupplierRoutes, unit_of_work: UnitOfWorkFactory) -> None:
    kind, tags = routes.kind, (routes.tag,)

    @blueprint.get("/<uuid:supplier_id>")
    @documented(f"One {kind.noun} (its own account or admin)", responses={200: Supplier, 404: None}, tags=tags)
    @requires_role()
    def show(supplier_id: uuid.UUID) -> Response:
        return answer(_supplier(suppliers.find_supplier(unit_of_work(), kind, supplier_id, current_principal())))

    @blueprint.get("/<uuid:supplier_id>/history")
    @documented(
        f"Extension to the v1 contract: the {kind.noun}'s approval decisions, oldest first (its own account or admin)",
        responses={200: ApprovalHistory, 404: None},
        tags=tags,
    )
    @requires_role()
    def history(supplier_id: uuid.UUID) -> Response:
        trail = suppliers.audit_trail(unit_of_work(), kind, supplier_id, current_principal())
        return answer(ApprovalHistory(items=[_approval_entry(entry) for entry in trail.entries]))


def _review_view(routes: SupplierRoutes, decision: Decision, unit_of_work: UnitOfWorkFactory) -> Callable[..., Any]:
    kind, body = routes.kind, _REVIEW_BODIES[decision]

    @documented(
        f"{decision.value.capitalize()} the {kind.noun} (admin)"
        + ("; the body is optional" if body is ApprovalNote else ""),
        body=body,
        responses={200: Supplier, 404: None, 409: None},
        tags=(routes.tag,),
    )
    @requires_role(Role.ADMIN)
    def decide(supplier_id: uuid.UUID) -> Response:
        note = _decision_text(decision)
        reviewer = current_principal().sub
        supplier = suppliers.review_supplier(unit_of_work(), kind, supplier_id, decision, reviewer, note)
        return answer(_supplier(supplier))

    return decide


def _decision_text(decision: Decision) -> str | None:
    """The note (approve) or reason (reject, suspend) the admin gave."""
    if decision is not Decision.APPROVE:
        return parse_body(ApprovalReason).reason
    # An approval needs nothing more than the decision, so an empty body is as good as {}.
    if not request.get_data(cache=True):
        return None
    return parse_body(ApprovalNote).note or None


def _position(cursor: str) -> Position:
    position = decode_cursor_as(_CursorPosition, cursor)
    return Position(submitted_at=position.submitted_at, id=position.id)


def _cursor_after(supplier: Row) -> str:
    return encode_cursor({"submitted_at": rfc3339(supplier["submitted_at"]), "id": str(supplier["id"])})


def _supplier(row: Row) -> Supplier:
    # The model's fields are the very columns shown. Lax, unlike a request: statuses come back as plain strings.
    return Supplier.model_validate({field: row[field] for field in Supplier.model_fields}, strict=False)


def _approval_entry(row: Row) -> ApprovalEntry:
    statuses = {"from": row["from_status"], "to": row["to_status"]}  # by alias: ``from`` is a Python keyword
    # Lax for the same reason as a supplier's.
    return ApprovalEntry.model_validate(
        {**statuses, "at": row["at"], "actor": row["actor"], "reason": row["reason"]}, strict=False
    )
