"""The redirect back: parsing and the iss -> state -> error -> code ladder."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from oauthcli.authorization import (
    AuthorizationRequest,
    build_authorization_url,
    parse_callback_query,
    validate_callback,
)
from oauthcli.errors import AuthorizationError, CallbackRejected, ValidationError

ISSUER = "https://idp.example.test"


def make_request(*, iss_required: bool = True) -> AuthorizationRequest:
    return AuthorizationRequest(
        issuer=ISSUER,
        iss_required=iss_required,
        client_id="cli",
        redirect_uri="http://127.0.0.1:5000/callback",
        state="s" * 43,
        nonce="n" * 43,
        code_verifier="v" * 43,
        url="https://idp.example.test/authorize",
    )


def test_a_good_callback_returns_the_code() -> None:
    params = {"code": "abc", "state": "s" * 43, "iss": ISSUER}
    assert validate_callback(params, make_request()) == "abc"


def test_csrf_01_missing_state_is_rejected_as_not_ours() -> None:
    with pytest.raises(CallbackRejected) as caught:
        validate_callback({"code": "abc", "iss": ISSUER}, make_request())
    assert caught.value.code == "state_mismatch"


def test_csrf_01_wrong_state_is_rejected_as_not_ours() -> None:
    params = {"code": "abc", "state": "t" * 43, "iss": ISSUER}
    with pytest.raises(CallbackRejected):
        validate_callback(params, make_request())


@pytest.mark.parametrize("param", ["state", "iss"])
def test_csrf_01_state_or_iss_with_a_lone_surrogate_is_refused_not_a_unicode_error(
    param: str,
) -> None:
    # A pasted address whose bytes were not UTF-8 reaches the parser with
    # surrogateescape characters (PEP 540); percent-decoding leaves them.
    params = parse_callback_query(f"code=abc&state={'s' * 43}&iss={ISSUER}")
    params[param] = params[param][:-1] + "\udcff"
    with pytest.raises(ValidationError):
        validate_callback(params, make_request())


def test_mix_02_missing_iss_when_advertised_fails_the_login() -> None:
    params = {"code": "abc", "state": "s" * 43}
    with pytest.raises(ValidationError) as caught:
        validate_callback(params, make_request(iss_required=True))
    assert not isinstance(caught.value, CallbackRejected)
    assert caught.value.code == "issuer_mismatch"


def test_missing_iss_is_accepted_when_the_provider_does_not_advertise_it() -> None:
    params = {"code": "abc", "state": "s" * 43}
    assert validate_callback(params, make_request(iss_required=False)) == "abc"


def test_mix_03_foreign_iss_fails_even_when_not_advertised() -> None:
    params = {"code": "abc", "state": "s" * 43, "iss": "https://evil.example.test"}
    with pytest.raises(ValidationError) as caught:
        validate_callback(params, make_request(iss_required=False))
    assert caught.value.code == "issuer_mismatch"


def test_foreign_iss_with_a_foreign_state_is_only_ignored() -> None:
    params = {"code": "abc", "state": "x", "iss": "https://evil.example.test"}
    with pytest.raises(CallbackRejected):
        validate_callback(params, make_request())


def test_mix_05_error_from_another_issuer_is_not_attributed_to_ours() -> None:
    params = {"error": "access_denied", "state": "s" * 43, "iss": "https://other.test"}
    with pytest.raises(ValidationError) as caught:
        validate_callback(params, make_request())
    assert caught.value.code == "issuer_mismatch"


def test_azr_01_access_denied_is_an_authorization_error_with_its_code() -> None:
    params = {
        "error": "access_denied",
        "error_description": "User cancelled<script>",
        "state": "s" * 43,
        "iss": ISSUER,
    }
    with pytest.raises(AuthorizationError) as caught:
        validate_callback(params, make_request())
    assert caught.value.error == "access_denied"
    assert caught.value.error_description == "User cancelled<script>"
    assert "access_denied" in caught.value.message


@pytest.mark.parametrize(
    "error",
    [
        "login_required",
        "consent_required",
        "interaction_required",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "made_up_code",
    ],
)
def test_azr_02_each_error_code_is_surfaced(error: str) -> None:
    params = {"error": error, "state": "s" * 43, "iss": ISSUER}
    with pytest.raises(AuthorizationError) as caught:
        validate_callback(params, make_request())
    assert caught.value.error == error


@pytest.mark.parametrize(
    "extra", ["access_token", "id_token", "token_type", "response"]
)
def test_azr_04_and_05_implicit_or_jarm_parameters_are_rejected(extra: str) -> None:
    params = {"code": "abc", "state": "s" * 43, "iss": ISSUER, extra: "x"}
    with pytest.raises(ValidationError) as caught:
        validate_callback(params, make_request())
    assert caught.value.code == "invalid_callback"


def test_azr_07_neither_code_nor_error_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_callback({"state": "s" * 43, "iss": ISSUER}, make_request())
    assert caught.value.code == "invalid_callback"


@pytest.mark.parametrize(
    "query",
    [
        "code=a&code=b&state=s",
        "code=a&state=s&state=t",
        "code=a&state=s&state=s",
        "iss=a&iss=a",
    ],
)
def test_cb_15_repeated_parameters_are_refused(query: str) -> None:
    with pytest.raises(CallbackRejected):
        parse_callback_query(query)


def test_cb_16_empty_values_count_as_absent() -> None:
    assert parse_callback_query("code=&state=s") == {"state": "s"}


def test_cb_19_too_many_parameters_are_refused() -> None:
    with pytest.raises(CallbackRejected):
        parse_callback_query("&".join(f"p{i}=1" for i in range(1000)))


def test_cb_18_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(CallbackRejected):
        parse_callback_query("code=%ff%fe&state=s")


def test_the_authorization_url_keeps_the_endpoint_query_and_encodes_values() -> None:
    url = build_authorization_url(
        "https://idp.test/authorize?tenant=a",
        {"scope": "openid email", "state": "a&b=c", "redirect_uri": "http://x/cb"},
    )
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "tenant": ["a"],
        "scope": ["openid email"],
        "state": ["a&b=c"],
        "redirect_uri": ["http://x/cb"],
    }
    assert "%20" in url  # spaces as %20, not '+'


def test_a_parameter_the_endpoint_already_has_is_refused() -> None:
    with pytest.raises(ValidationError):
        build_authorization_url("https://idp.test/authorize?state=x", {"state": "y"})
