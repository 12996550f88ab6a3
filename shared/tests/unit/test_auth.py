"""Token verification in every mode and the dev-token CLI (the HTTP side is in ``test_access``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr

from tripline.auth.cli import main
from tripline.auth.tokens import (
    InvalidToken,
    KeySetUnavailable,
    Principal,
    Role,
    TokenVerifier,
    issue_dev_token,
)
from tripline.settings import AuthSettings

from .auth_support import DEV, SECRET, claims, hs256


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(header: dict[str, Any], payload: dict[str, Any], key: bytes = b"") -> str:
    """A token built by hand, as an attacker would, bypassing PyJWT's own guards."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return f"{signing_input}.{b64(signature)}"


def pem(public_key: Any) -> str:
    data: bytes = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return data.decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def with_public_key(key: Any) -> AuthSettings:
    return AuthSettings(
        secret=SecretStr(SECRET),
        issuer="tripline-dev",
        audience="tripline",
        public_key=SecretStr(pem(key.public_key())),
    )


def rejection(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as raised:
        verifier.verify(token)
    assert not token or token not in raised.value.reason
    return raised.value.reason


def test_valid_dev_token_names_the_principal() -> None:
    assert TokenVerifier(DEV).verify(hs256()) == Principal("alice", Role.CUSTOMER)


def test_issued_dev_token_verifies() -> None:
    token = issue_dev_token("ops-1", "operator", ttl_seconds=60, settings=DEV)

    principal = TokenVerifier(DEV).verify(token)

    assert principal == Principal("ops-1", Role.OPERATOR)
    assert not principal.is_admin
    assert Principal("root", Role.ADMIN).is_admin


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs256(exp=int(time.time()) - 3600), "expired"),
        (hs256(iss="someone-else"), "issuer"),
        (hs256(aud="another-api"), "audience"),
        (hs256(secret="a-different-secret-that-is-also-long-enough"), "signature"),
        (hs256(role=None), "role claim"),
        (hs256(exp=None), "exp claim"),
        (hs256(iat=None), "iat claim"),
        (hs256(sub=None), "sub claim"),
        (hs256(nbf=int(time.time()) + 3600), "not valid yet"),
        ("not.a.token", "malformed"),
        ("", "malformed"),
    ],
)
def test_bad_tokens_are_rejected_with_a_reason(token: str, reason: str) -> None:
    assert reason in rejection(TokenVerifier(DEV), token)


def test_leeway_tolerates_small_clock_skew() -> None:
    token = hs256(exp=int(time.time()) - 5)

    assert TokenVerifier(DEV).verify(token).sub == "alice"


@pytest.mark.parametrize(
    "changes",
    [{"role": "superuser"}, {"role": ["admin"]}, {"sub": ""}, {"sub": "x" * 65}, {"sub": "   "}],
)
def test_role_and_subject_must_be_well_formed(changes: dict[str, Any]) -> None:
    rejection(TokenVerifier(DEV), hs256(**changes))


def test_subject_of_64_characters_is_fine() -> None:
    assert TokenVerifier(DEV).verify(hs256(sub="x" * 64)).sub == "x" * 64


NOT_PRINTABLE = ["asha\x00", "\x00", "ali\nce", "tab\there", "\x1b[31mred", "del\x7f", "next\x85line", "a\u2028b"]
NOT_PRINTABLE_IDS = ["nul-inside", "only-nul", "newline", "tab", "escape", "delete", "c1-next-line", "line-separator"]


@pytest.mark.parametrize("sub", NOT_PRINTABLE, ids=NOT_PRINTABLE_IDS)
def test_a_subject_with_a_control_character_is_refused(sub: str) -> None:
    """A subject is stored as text (which cannot hold a NUL) and shown in paths and logs."""
    assert "printable" in rejection(TokenVerifier(DEV), hs256(sub=sub))


@pytest.mark.parametrize("sub", ["asha rao", "jos\u00e9", "\u30a2\u30b7\u30e3", "ops-1@example.com"])
def test_printable_subjects_beyond_ascii_letters_are_fine(sub: str) -> None:
    assert TokenVerifier(DEV).verify(hs256(sub=sub)).sub == sub


@pytest.mark.parametrize("sub", NOT_PRINTABLE, ids=NOT_PRINTABLE_IDS)
def test_no_dev_token_is_issued_for_a_subject_with_a_control_character(sub: str) -> None:
    with pytest.raises(ValueError, match="printable"):
        issue_dev_token(sub, "customer", settings=DEV)


def test_alg_none_is_rejected() -> None:
    token = unsigned({"alg": "none", "typ": "JWT"}, claims())

    assert "algorithm" in rejection(TokenVerifier(DEV), token)


def test_short_secret_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="AUTH_JWT_SECRET"):
        TokenVerifier(AuthSettings(secret=SecretStr("short")))


def test_rs256_token_verifies_against_a_pem_key(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenVerifier(with_public_key(rsa_key))
    token = jwt.encode(claims(role="admin"), rsa_key, algorithm="RS256")

    assert verifier.algorithms == ("RS256",)
    assert verifier.verify(token) == Principal("alice", Role.ADMIN)


def test_es256_token_verifies_against_a_pem_key(ec_key: ec.EllipticCurvePrivateKey) -> None:
    verifier = TokenVerifier(with_public_key(ec_key))
    token = jwt.encode(claims(), ec_key, algorithm="ES256")

    assert verifier.algorithms == ("ES256",)
    assert verifier.verify(token).role is Role.CUSTOMER


def test_hs256_is_refused_when_a_public_key_is_configured(rsa_key: rsa.RSAPrivateKey) -> None:
    settings = with_public_key(rsa_key)
    assert settings.public_key is not None
    # The classic confusion attack: HMAC-sign with the public key's PEM bytes as the secret.
    forged = unsigned(
        {"alg": "HS256", "typ": "JWT"}, claims(role="admin"), settings.public_key.get_secret_value().encode()
    )

    verifier = TokenVerifier(settings)

    assert "algorithm" in rejection(verifier, forged)
    assert "algorithm" in rejection(verifier, hs256())


def test_token_for_another_key_type_is_refused(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    token = jwt.encode(claims(), ec_key, algorithm="ES256")

    assert "algorithm" in rejection(TokenVerifier(with_public_key(rsa_key)), token)


class StaticKeySet(jwt.PyJWKClient):
    """A JWKS endpoint served from memory: no network in unit tests."""

    def __init__(self, keys: list[dict[str, Any]] | None) -> None:
        super().__init__("https://idp.invalid/jwks.json", cache_keys=True)
        self.keys = keys

    def fetch_data(self) -> Any:
        if self.keys is None:
            raise jwt.PyJWKClientConnectionError("connection refused")
        return {"keys": self.keys}


def jwk(key: Any, kid: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPublicKey) else jwt.algorithms.ECAlgorithm
    return {**algorithm.to_jwk(key, as_dict=True), "kid": kid, "use": "sig"}


def test_jwks_keys_verify_rs256_and_es256(rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    key_set = StaticKeySet([jwk(rsa_key.public_key(), "r1"), jwk(ec_key.public_key(), "e1")])
    verifier = TokenVerifier(DEV, key_set=key_set)

    rs = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "r1"})
    es = jwt.encode(claims(sub="bob"), ec_key, algorithm="ES256", headers={"kid": "e1"})

    assert verifier.verify(rs).sub == "alice"
    assert verifier.verify(es).sub == "bob"
    assert "unknown key" in rejection(verifier, jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "zz"}))
    assert "algorithm" in rejection(verifier, unsigned({"alg": "HS256", "kid": "r1"}, claims(), b"k" * 32))


def test_unreachable_jwks_is_our_fault_not_the_callers(rsa_key: rsa.RSAPrivateKey) -> None:
    verifier = TokenVerifier(DEV, key_set=StaticKeySet(None))

    with pytest.raises(KeySetUnavailable):
        verifier.verify(jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "r1"}))


def test_dev_tokens_are_refused_when_an_identity_provider_is_configured(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    with pytest.raises(RuntimeError, match="identity provider"):
        issue_dev_token("alice", "customer", settings=with_public_key(rsa_key))
    with pytest.raises(RuntimeError):
        issue_dev_token("alice", "customer", settings=AuthSettings(jwks_url="https://idp.invalid/jwks"))


@pytest.mark.parametrize(
    ("sub", "role", "ttl", "complaint"),
    [("alice", "root", 60, "'root'"), ("", "customer", 60, "subject"), ("alice", "customer", 0, "ttl")],
)
def test_dev_token_arguments_are_checked(sub: str, role: str, ttl: int, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        issue_dev_token(sub, role, ttl, settings=DEV)


def test_cli_prints_a_token_the_verifier_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTH_JWT_SECRET", SECRET)
    monkeypatch.delenv("AUTH_JWT_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("AUTH_JWT_JWKS_URL", raising=False)

    assert main(["--sub", "alice", "--role", "admin", "--ttl", "120"]) == 0

    token = capsys.readouterr().out.strip()
    assert TokenVerifier(AuthSettings()).verify(token) == Principal("alice", Role.ADMIN)


def test_cli_explains_a_bad_role(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--sub", "alice", "--role", "root"])

    assert exited.value.code == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err


def test_cli_refuses_when_a_public_key_is_configured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], rsa_key: rsa.RSAPrivateKey
) -> None:
    monkeypatch.setenv("AUTH_JWT_PUBLIC_KEY", pem(rsa_key.public_key()))

    assert main(["--sub", "alice", "--role", "customer"]) == 2
    assert "identity provider" in capsys.readouterr().err


def test_empty_public_key_setting_means_development_mode() -> None:
    settings = AuthSettings(secret=SecretStr(SECRET), public_key=SecretStr("  "))

    assert TokenVerifier(settings).algorithms == ("HS256",)
    assert TokenVerifier(settings).verify(issue_dev_token("alice", "owner", settings=settings)).role is Role.OWNER
