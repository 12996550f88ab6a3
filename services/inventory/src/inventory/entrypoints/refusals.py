"""What the use cases refuse, answered as the contract's problems: one table for every inventory blueprint."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Blueprint, Response

from inventory.domain.fleet import AlreadyCancelled, AlreadyDeparted
from inventory.domain.violations import RulesBroken
from inventory.service_layer.errors import NotVisible
from inventory.service_layer.fleet import RegistrationTaken
from inventory.service_layer.hotels import AllotmentBelowBooked, DuplicateRoomType
from inventory.service_layer.suppliers import AlreadyRegistered, ReviewRefused
from tripline.http.problems import FieldError, Problem, conflict, not_found, validation_failed

Refusal = TypeVar("Refusal", bound=Exception)


def answer_refusals(blueprint: Blueprint) -> None:
    """Whichever of ``blueprint``'s views raises a refusal, the client gets its problem."""
    _answer(blueprint, NotVisible, lambda error: not_found(error.what))
    _answer(blueprint, RulesBroken, _rules_broken)
    _answer(blueprint, AlreadyRegistered, _already_registered)
    _answer(blueprint, ReviewRefused, _review_refused)
    _answer(blueprint, RegistrationTaken, _registration_taken)
    _answer(blueprint, AlreadyCancelled, lambda _: conflict("invalid_transition", "The schedule is already cancelled."))
    _answer(blueprint, AlreadyDeparted, lambda _: conflict("schedule_departed", "The schedule has already departed."))
    _answer(blueprint, DuplicateRoomType, _duplicate_room_type)
    _answer(blueprint, AllotmentBelowBooked, _below_booked)


def _answer(blueprint: Blueprint, refusal: type[Refusal], problem: Callable[[Refusal], Problem]) -> None:
    def respond(error: Refusal) -> Response:
        return problem(error).to_response()

    blueprint.register_error_handler(refusal, respond)


def _rules_broken(error: RulesBroken) -> Problem:
    return validation_failed([FieldError(v.field, v.message) for v in error.violations])


def _already_registered(error: AlreadyRegistered) -> Problem:
    return conflict("already_exists", f"This account already has a {error.what}.")


def _review_refused(error: ReviewRefused) -> Problem:
    # The current status also as a member of its own, so clients need not parse the detail.
    return Problem(
        409,
        "invalid_transition",
        "Conflict",
        f"Cannot {error.decision.value} this {error.what}: its approval status is {error.current.value}.",
        extra={"approval_status": error.current.value},
    )


def _registration_taken(error: RegistrationTaken) -> Problem:
    return conflict("registration_taken", f"A bus with registration {error.registration} is already registered.")


def _duplicate_room_type(_: DuplicateRoomType) -> Problem:
    return conflict("already_exists", "The hotel already has a room type with this name.")


def _below_booked(error: AllotmentBelowBooked) -> Problem:
    return Problem(
        409,
        "allotment_below_booked",
        "Conflict",
        "Some nights already have more rooms held or sold than the new allotment; nothing was changed.",
        extra={"nights": [night.isoformat() for night in error.nights]},
    )
