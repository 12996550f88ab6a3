"""The sandbox provider: every charge succeeds, and a retried charge is the same charge."""

from payments.adapters.providers import ChargeRequest, SandboxProvider


def test_a_retried_charge_has_the_same_reference() -> None:
    sandbox = SandboxProvider()
    request = ChargeRequest("alice", 500, "INR", "key-1")
    assert sandbox.charge(request) == sandbox.charge(request)


def test_charges_of_other_keys_or_customers_differ() -> None:
    sandbox = SandboxProvider()
    references = {
        sandbox.charge(ChargeRequest(customer, 500, "INR", key)).reference
        for customer in ("alice", "bob")
        for key in ("key-1", "key-2")
    }
    assert len(references) == 4
    assert all(reference.startswith("sandbox_") for reference in references)
