"""The seed flow object, ``OAuth2``: one authorization request and one
redemption per flow, only inside its ``PKCE`` and ``CSRFState`` blocks.

A flow whose state, nonce and challenge served one request never serves
another (RFC 6749 section 10.12, OIDC Core 3.1.2.1), and its code and
verifier go to the token endpoint once (checklist CSRF-02). Against the
hostile provider, which logs every request it gets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evilprovider import DELETE, EvilProvider, ScriptedUser
from oauthcli import PKCE, CSRFState, LocalError, OAuth2, OAuth2Constants, OAuthCLIError


@pytest.fixture
def op() -> Iterator[EvilProvider]:
    with EvilProvider() as provider:
        yield provider


def flow(op: EvilProvider, pkce: PKCE, csrf_state: CSRFState, **options: Any) -> OAuth2:
    """A seed flow at ``op``; ``options`` go to its OAuth2Constants."""
    constants = OAuth2Constants(
        client_id=op.client_id,
        authz_server_host=op.issuer,
        login_timeout=5.0,
        **options,
    )
    return OAuth2(
        pkce, csrf_state, constants, opener=ScriptedUser(), notify=lambda _: None
    )


def test_a_code_is_redeemed_once(op: EvilProvider, oauthcli_home: Path) -> None:
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        code = login.authorization_request()
        assert login.access_token_request(code)

        with pytest.raises(LocalError) as again:
            login.access_token_request(code)

    assert again.value.code == "flow_finished"
    assert len(op.requests("token")) == 1


def test_no_token_request_follows_a_failed_authorization_request(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.redirect_overrides["iss"] = DELETE  # RFC 9207: refused at the callback
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        with pytest.raises(OAuthCLIError) as refused:
            login.authorization_request()
        assert refused.value.code == "issuer_mismatch"

        with pytest.raises(LocalError) as redeem:
            login.access_token_request("a-code-from-anywhere")

    assert redeem.value.code == "flow_finished"
    assert op.requests("token") == []


def test_a_flow_makes_one_authorization_request(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        login.access_token_request(login.authorization_request())

        with pytest.raises(LocalError) as again:
            login.authorization_request()

    assert again.value.code == "flow_finished"
    assert len(op.requests("authorize")) == 1


def test_a_token_request_before_the_authorization_request_is_refused(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    with PKCE() as pkce, CSRFState() as csrf_state, pytest.raises(LocalError) as early:
        flow(op, pkce, csrf_state).token_request("a-code")

    assert early.value.code == "flow_finished"
    assert op.requests() == []


def test_the_code_is_not_redeemed_after_the_blocks_of_the_flow_ended(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        code = login.authorization_request()

    with pytest.raises(LocalError) as late:
        login.access_token_request(code)

    assert late.value.code == "flow_finished"
    assert op.requests("token") == []


@pytest.mark.parametrize("ended", [PKCE, CSRFState])
def test_either_wiped_holder_keeps_the_code_from_being_redeemed(
    op: EvilProvider, oauthcli_home: Path, ended: type[PKCE | CSRFState]
) -> None:
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        code = login.authorization_request()
        (pkce if ended is PKCE else csrf_state).wipe()  # what each exit does

        with pytest.raises(LocalError) as late:
            login.access_token_request(code)

    assert late.value.code == "flow_finished"
    assert f"the {ended.__name__} of this flow" in late.value.message
    assert op.requests("token") == []


def test_a_challenge_made_after_the_request_keeps_the_code_from_being_redeemed(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        code = login.authorization_request()
        pkce.construct_challenge()

        with pytest.raises(LocalError) as changed:
            login.access_token_request(code)

    assert changed.value.code == "flow_finished"
    assert op.requests("token") == []


def test_a_wiped_csrf_state_is_refused_before_any_request(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    with CSRFState() as csrf_state:
        pass

    with PKCE() as pkce, pytest.raises(LocalError) as wiped:
        flow(op, pkce, csrf_state).authorization_request()

    assert wiped.value.code == "flow_finished"
    assert op.requests() == []


def test_a_max_age_given_to_one_request_is_checked_against_auth_time(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    # Only the constants' max_age was checked; one passed to the call was
    # sent and then forgotten, so a stale authentication went through.
    op.id_token_claims["auth_time"] = int(time.time()) - 3600
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        code = login.authorization_request(extra_params={"max_age": "60"})
        with pytest.raises(OAuthCLIError) as stale:
            login.access_token_request(code)

    assert stale.value.code == "invalid_id_token"
    assert "max_age" in stale.value.message


def test_a_max_age_that_is_not_seconds_is_refused_before_the_browser(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        with pytest.raises(LocalError) as refused:
            login.authorization_request(extra_params={"max_age": "5m"})

    assert refused.value.code == "invalid_argument"
    assert op.requests() == []


def test_a_csrf_state_sent_by_one_flow_is_refused_by_the_next(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    # A retry with a new flow but the same CSRFState sent its state and
    # nonce a second time.
    with PKCE() as pkce, CSRFState() as csrf_state:
        first = flow(op, pkce, csrf_state)
        first.access_token_request(first.authorization_request())

        with pytest.raises(LocalError) as reused:
            flow(op, pkce, csrf_state).authorization_request()

    assert reused.value.code == "flow_finished"
    assert "CSRFState" in reused.value.message
    assert len(op.requests("authorize")) == 1


def test_a_failed_pushed_request_is_not_pushed_again_by_the_same_flow(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    # The push sends state, nonce and challenge before anything else can fail.
    op.par_status = 500
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state, par=True)
        with pytest.raises(OAuthCLIError) as failed:
            login.authorization_request()
        assert failed.value.code != "flow_finished"

        with pytest.raises(LocalError) as again:
            login.authorization_request()

    assert again.value.code == "flow_finished"
    assert len(op.requests("par")) == 1


def test_a_login_after_the_pkce_block_ended_is_refused_before_any_request(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    # A wiped PKCE quietly made a new verifier that outlived every block.
    with PKCE() as pkce:
        pass

    with CSRFState() as csrf_state, pytest.raises(LocalError) as ended:
        flow(op, pkce, csrf_state).authorization_request()

    assert ended.value.code == "flow_finished"
    assert op.requests() == []


def test_extra_params_changed_after_construction_are_not_sent(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    params = {"max_age": "300"}
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state, extra_params=params)
        params["max_age"] = "5m"
        assert login.access_token_request(login.authorization_request())

    assert op.requests("authorize")[0].query["max_age"] == "300"


@pytest.mark.parametrize("extra", [None, [("max_age", "60")]], ids=["none", "pairs"])
def test_extra_params_that_are_not_a_mapping_are_our_own_error(extra: object) -> None:
    with pytest.raises(LocalError) as refused:
        OAuth2Constants("cli", "idp.test", extra_params=extra)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_argument"


def test_a_request_refused_before_anything_is_sent_leaves_the_flow_usable(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    # A parameter oauthcli owns was refused only after the flow and its
    # CSRFState had been marked as sent, so the fixed call was refused too.
    with PKCE() as pkce, CSRFState() as csrf_state:
        login = flow(op, pkce, csrf_state)
        with pytest.raises(LocalError) as refused:
            login.authorization_request(extra_params={"state": "mine"})
        assert refused.value.code == "invalid_argument"
        assert op.requests() == []

        assert login.access_token_request(login.authorization_request())
