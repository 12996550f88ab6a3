"""What a supplier submission accepts, without a database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inventory.entrypoints.suppliers_api import ApprovalNote, ApprovalReason, SupplierRegistration


@pytest.mark.parametrize(
    "email",
    [
        "ops@konkan.example",
        "first.last+bookings@mail.konkan-travels.co.in",
        "o'brien@example.ie",
        "A_B@EXAMPLE.COM",
        "x@" + "a" * 63 + ".example",
    ],
)
def test_plausible_addresses_are_accepted(email: str) -> None:
    assert SupplierRegistration(name="Konkan", contact_email=email).contact_email == email


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ops",
        "ops@",
        "@konkan.example",
        "ops@konkan",
        "ops@@konkan.example",
        "ops@konkan..example",
        "o..ps@konkan.example",
        ".ops@konkan.example",
        "ops.@konkan.example",
        "o ps@konkan.example",
        "ops@-konkan.example",
        "ops@konkan.example.",
        "ops@konkan.e",
        "a" * 65 + "@konkan.example",
        "ops@" + "a" * 64 + ".example",
        "ops@" + ("a" * 60 + ".") * 4 + "example",  # 259 characters
    ],
)
def test_implausible_addresses_are_refused(email: str) -> None:
    with pytest.raises(ValidationError):
        SupplierRegistration(name="Konkan", contact_email=email)


def test_name_and_email_lose_surrounding_whitespace() -> None:
    registration = SupplierRegistration(name="  Konkan Travels\t", contact_email=" ops@konkan.example\n")

    assert (registration.name, registration.contact_email) == ("Konkan Travels", "ops@konkan.example")


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_a_name_is_one_to_two_hundred_visible_characters(name: str) -> None:
    with pytest.raises(ValidationError):
        SupplierRegistration(name=name, contact_email="ops@konkan.example")


@pytest.mark.parametrize("reason", ["", " \n ", "x" * 1001])
def test_a_reason_is_one_to_a_thousand_visible_characters(reason: str) -> None:
    with pytest.raises(ValidationError):
        ApprovalReason(reason=reason)


def test_a_note_is_optional_but_bounded() -> None:
    assert ApprovalNote().note is None
    assert ApprovalNote(note="x" * 1000).note == "x" * 1000
    with pytest.raises(ValidationError):
        ApprovalNote(note="x" * 1001)
