"""The state and nonce of one login."""

from __future__ import annotations

import re

import pytest

from oauthcli.errors import LocalError
from oauthcli.state import CSRFState

BASE64URL_43 = re.compile(r"[A-Za-z0-9_-]{43}")


def test_state_and_nonce_are_43_base64url_characters() -> None:
    with CSRFState() as csrf:
        assert BASE64URL_43.fullmatch(csrf.state)
        assert BASE64URL_43.fullmatch(csrf.nonce)


def test_state_and_nonce_differ_from_each_other_and_between_logins() -> None:
    values: list[str] = []
    for _ in range(1000):
        with CSRFState() as csrf:
            values.extend((csrf.state, csrf.nonce))

    assert len(set(values)) == len(values)


def test_state_and_nonce_stay_the_same_within_one_login() -> None:
    with CSRFState() as csrf:
        assert csrf.state == csrf.state
        assert csrf.nonce == csrf.nonce


def test_csrf_state_is_wiped_on_exit() -> None:
    with CSRFState() as csrf:
        pass

    with pytest.raises(LocalError, match="wiped"):
        _ = csrf.state
    with pytest.raises(LocalError, match="wiped"):
        _ = csrf.nonce


def test_csrf_state_is_wiped_when_the_block_fails() -> None:
    csrf = CSRFState()

    with pytest.raises(KeyError), csrf:
        raise KeyError("login failed")

    with pytest.raises(LocalError):
        _ = csrf.state


def test_csrf_state_repr_redacts_both_values() -> None:
    with CSRFState() as csrf:
        for shown in (repr(csrf), str(csrf)):
            assert csrf.state not in shown
            assert csrf.nonce not in shown
            assert "[redacted]" in shown


def test_csrf_state_entered_again_holds_new_values() -> None:
    csrf = CSRFState()
    with csrf:
        first = (csrf.state, csrf.nonce)
    with csrf:
        second = (csrf.state, csrf.nonce)

    assert first[0] != second[0]
    assert first[1] != second[1]


def test_csrf_state_is_where_the_seed_sdk_kept_it() -> None:
    from oauthcli.csrf import CSRFState as from_seed_path

    assert from_seed_path is CSRFState
