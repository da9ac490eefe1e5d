"""PKCE with S256 only (RFC 7636)."""

from __future__ import annotations

import re

import pytest

from oauthcli.errors import LocalError
from oauthcli.pkce import PKCE, code_challenge, new_code_verifier

UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def test_pkce_02_rfc_7636_appendix_b_vector() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_01_ten_thousand_verifiers_are_well_formed_and_distinct() -> None:
    verifiers = [new_code_verifier() for _ in range(10_000)]

    assert all(UNRESERVED.fullmatch(verifier) for verifier in verifiers)
    assert len(set(verifiers)) == len(verifiers)


def test_pkce_01_verifier_carries_32_random_bytes() -> None:
    assert len(new_code_verifier()) == 43


def test_challenge_is_unpadded_base64url_of_43_characters() -> None:
    challenge = code_challenge(new_code_verifier())

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge)


@pytest.mark.parametrize(
    "verifier",
    [
        "a" * 42,
        "a" * 129,
        "a" * 42 + "+",
        "a" * 42 + "/",
        "a" * 42 + "=",
        "a" * 42 + " ",
        "a" * 42 + "\u00e9",
        "",
    ],
    ids=[
        "42-chars",
        "129-chars",
        "plus",
        "slash",
        "padding",
        "space",
        "non-ascii",
        "empty",
    ],
)
def test_verifier_outside_rfc_7636_is_refused(verifier: str) -> None:
    with pytest.raises(ValueError, match="code_verifier"):
        code_challenge(verifier)


@pytest.mark.parametrize("verifier", ["a" * 43, "~._-" * 32, "Z9" * 64])
def test_verifier_at_the_edges_of_rfc_7636_is_accepted(verifier: str) -> None:
    assert len(code_challenge(verifier)) == 43


def test_challenge_method_is_s256() -> None:
    assert PKCE.challenge_method == "S256"
    with PKCE() as pkce:
        assert pkce.challenge_method == "S256"


def test_construct_challenge_returns_a_matching_pair() -> None:
    with PKCE() as pkce:
        verifier, challenge = pkce.construct_challenge()

        assert pkce.verifier == verifier
        assert pkce.challenge == challenge
        assert code_challenge(verifier) == challenge


def test_each_construct_challenge_makes_a_new_verifier() -> None:
    with PKCE() as pkce:
        first, _ = pkce.construct_challenge()
        second, _ = pkce.construct_challenge()

    assert first != second


def test_pkce_context_manager_wipes_the_verifier_on_exit() -> None:
    with PKCE() as pkce:
        pkce.construct_challenge()

    with pytest.raises(LocalError):
        _ = pkce.verifier
    with pytest.raises(LocalError):
        _ = pkce.challenge


def _fail_inside(pkce: PKCE) -> None:
    with pkce:
        pkce.construct_challenge()
        raise KeyError("login failed")


def test_pkce_context_manager_wipes_the_verifier_when_the_block_fails() -> None:
    pkce = PKCE()

    with pytest.raises(KeyError):
        _fail_inside(pkce)

    with pytest.raises(LocalError):
        _ = pkce.verifier


def test_verifier_before_construct_challenge_is_an_error() -> None:
    with pytest.raises(LocalError, match="construct_challenge"):
        _ = PKCE().verifier


def test_pkce_repr_redacts_the_verifier_and_challenge() -> None:
    with PKCE() as pkce:
        verifier, challenge = pkce.construct_challenge()

        for shown in (repr(pkce), str(pkce)):
            assert verifier not in shown
            assert challenge not in shown
            assert "[redacted]" in shown
