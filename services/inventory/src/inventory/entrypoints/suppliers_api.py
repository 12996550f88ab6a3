"""``/v1/operators`` and ``/v1/property-owners``: one set of routes, registered once per supplier kind."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from flask import Blueprint, Response, jsonify, request
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, StringConstraints, ValidationError

from inventory.config import InventorySettings
from inventory.domain.approvals import ApprovalStatus, Decision, InvalidTransition
from inventory.service_layer import suppliers
from inventory.service_layer.suppliers import OPERATOR, OWNER, Position, Row, SupplierKind
from tripline.auth.access import current_principal, ensure_visible_to, requires_role
from tripline.auth.tokens import Role
from tripline.http.openapi import documented
from tripline.http.problems import FieldError, Problem, bad_request, conflict, not_found
from tripline.http.validation import ApiModel, PageQuery, decode_cursor, encode_cursor, parse_body, parse_query
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
    submitted_at: datetime
    approved_at: datetime | None
    rejected_at: datetime | None
    suspended_at: datetime | None
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
    at: datetime
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
    def register() -> tuple[Response, int, dict[str, str]]:
        registration = parse_body(SupplierRegistration)
        account_id = current_principal().sub
        try:
            supplier = suppliers.register_supplier(
                unit_of_work(), kind, account_id, registration.name, registration.contact_email
            )
        except suppliers.AlreadyRegistered:
            raise conflict("already_exists", f"This account already has a {kind.noun}.") from None
        return jsonify(_shown(supplier)), 201, {"Location": f"{routes.url_prefix}/{supplier['id']}"}

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
        return jsonify({"items": [_shown(item) for item in page.items], "next_cursor": next_cursor})


def _add_reading_routes(blueprint: Blueprint, routes: SupplierRoutes, unit_of_work: UnitOfWorkFactory) -> None:
    kind, tags = routes.kind, (routes.tag,)

    @blueprint.get("/<uuid:supplier_id>")
    @documented(f"One {kind.noun} (its own account or admin)", responses={200: Supplier, 404: None}, tags=tags)
    @requires_role()
    def show(supplier_id: uuid.UUID) -> Response:
        supplier = suppliers.find_supplier(unit_of_work(), kind, supplier_id)
        if supplier is None:
            raise not_found(kind.noun)
        _ensure_visible(supplier, kind)
        return jsonify(_shown(supplier))

    @blueprint.get("/<uuid:supplier_id>/history")
    @documented(
        f"Extension to the v1 contract: the {kind.noun}'s approval decisions, oldest first (its own account or admin)",
        responses={200: ApprovalHistory, 404: None},
        tags=tags,
    )
    @requires_role()
    def history(supplier_id: uuid.UUID) -> Response:
        found = suppliers.audit_trail(unit_of_work(), kind, supplier_id)
        if found is None:
            raise not_found(kind.noun)
        _ensure_visible(found.supplier, kind)
        return jsonify({"items": [_shown_entry(entry) for entry in found.entries]})


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
        try:
            supplier = suppliers.review_supplier(unit_of_work(), kind, supplier_id, decision, reviewer, note)
        except suppliers.SupplierNotFound:
            raise not_found(kind.noun) from None
        except InvalidTransition as refused:
            raise _invalid_transition(kind, refused) from None
        return jsonify(_shown(supplier))

    return decide


def _decision_text(decision: Decision) -> str | None:
    """The note (approve) or reason (reject, suspend) the admin gave."""
    if decision is not Decision.APPROVE:
        return parse_body(ApprovalReason).reason
    # An approval needs nothing more than the decision, so an empty body is as good as {}.
    if not request.get_data(cache=True):
        return None
    return parse_body(ApprovalNote).note or None


def _invalid_transition(kind: SupplierKind, refused: InvalidTransition) -> Problem:
    # The current status also as a member of its own, so clients need not parse the detail.
    return Problem(
        409,
        "invalid_transition",
        "Conflict",
        f"Cannot {refused.decision.value} this {kind.noun}: its approval status is {refused.current.value}.",
        extra={"approval_status": refused.current.value},
    )


def _ensure_visible(supplier: Row, kind: SupplierKind) -> None:
    """Someone else's supplier gets the very 404 an unknown id gets."""
    ensure_visible_to(current_principal(), supplier["account_id"], kind.noun)


def _position(cursor: str) -> Position:
    try:
        position = _CursorPosition.model_validate(decode_cursor(cursor))
    except ValidationError:
        raise bad_request(
            "invalid_cursor", "The cursor is not one this API issued.", [FieldError("cursor", "Invalid cursor")]
        ) from None
    return Position(submitted_at=position.submitted_at, id=position.id)


def _cursor_after(supplier: Row) -> str:
    return encode_cursor({"submitted_at": rfc3339(supplier["submitted_at"]), "id": str(supplier["id"])})


def _shown(supplier: Row) -> dict[str, Any]:
    return {
        "id": str(supplier["id"]),
        "account_id": supplier["account_id"],
        "name": supplier["name"],
        "contact_email": supplier["contact_email"],
        "approval_status": supplier["approval_status"],
        "submitted_at": rfc3339(supplier["submitted_at"]),
        "approved_at": rfc3339(supplier["approved_at"]),
        "rejected_at": rfc3339(supplier["rejected_at"]),
        "suspended_at": rfc3339(supplier["suspended_at"]),
        "review_note": supplier["review_note"],
        "reviewed_by": supplier["reviewed_by"],
    }


def _shown_entry(entry: Row) -> dict[str, Any]:
    return {
        "from": entry["from_status"],
        "to": entry["to_status"],
        "at": rfc3339(entry["at"]),
        "actor": entry["actor"],
        "reason": entry["reason"],
    }
