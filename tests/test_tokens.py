"""Token endpoint answers (RFC 6749 sections 5.1, 5.2) and client authentication."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote_plus

import pytest

from oauthcli.errors import (
    EndpointError,
    OAuthCLIError,
    TransportError,
    ValidationError,
)
from oauthcli.tokens import MAX_EXPIRES_IN, TokenSet, client_auth, parse_token_response
from oauthcli.transport import Response

NOW = 1_800_000_000.0
ACCESS_TOKEN = "at-9f8e7d6c5b4a39281706"
REFRESH_TOKEN = "rt-0a1b2c3d4e5f60718293"
ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl"
JSON = {"content-type": "application/json; charset=utf-8"}


def answer(
    body: dict[str, Any] | bytes,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, JSON if headers is None else headers, raw)


def tokens(**members: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"access_token": ACCESS_TOKEN, "token_type": "Bearer"}
    doc.update(members)
    return {key: value for key, value in doc.items() if value is not None}


def parse(response: Response, requested_scope: str | None = "openid") -> TokenSet:
    return parse_token_response(response, requested_scope=requested_scope, now=NOW)


def invalid(response: Response) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse(response)
    assert caught.value.code == "invalid_token_response"
    return caught.value


def test_a_complete_response_becomes_a_token_set() -> None:
    doc = tokens(
        expires_in=3600,
        refresh_token=REFRESH_TOKEN,
        id_token=ID_TOKEN,
        scope="openid profile",
    )

    result = parse(answer(doc))

    assert result == TokenSet(
        access_token=ACCESS_TOKEN,
        token_type="Bearer",
        expires_at=NOW + 3600,
        refresh_token=REFRESH_TOKEN,
        id_token=ID_TOKEN,
        scope="openid profile",
        obtained_at=NOW,
    )


# token_type (TOK-01)


@pytest.mark.parametrize(
    "token_type",
    [None, "", "mac", "N_A", "Bearer ", " bearer", "Bearer2", 1, ["Bearer"]],
    ids=repr,
)
def test_tok_01_missing_empty_or_unknown_token_type_is_rejected(
    token_type: object,
) -> None:
    doc = tokens(token_type=None)
    if token_type is not None:
        doc["token_type"] = token_type

    error = invalid(answer(doc))

    assert "token_type" in str(error)
    assert ACCESS_TOKEN not in str(error)


def test_tok_01_dpop_token_that_was_not_asked_for_is_rejected() -> None:
    invalid(answer(tokens(token_type="DPoP")))


@pytest.mark.parametrize("token_type", ["bearer", "BEARER", "Bearer", "bEaReR"])
def test_tok_01_bearer_in_any_case_is_accepted_and_normalised(
    token_type: str,
) -> None:
    assert parse(answer(tokens(token_type=token_type))).token_type == "Bearer"


# expires_in (TOK-03, policy 6)


def test_tok_03_expires_in_as_a_string_of_digits_is_tolerated() -> None:
    assert parse(answer(tokens(expires_in="3600"))).expires_at == NOW + 3600


def test_tok_03_zero_expires_in_means_already_expired() -> None:
    assert parse(answer(tokens(expires_in=0))).expires_at == NOW


def test_oidf_47_missing_expires_in_means_an_unknown_lifetime() -> None:
    result = parse(answer(tokens()))

    assert result.expires_at is None
    assert result.expires_in(NOW) is None


@pytest.mark.parametrize(
    "literal",
    [
        "-1",
        "-0.5",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "true",
        "false",
        '"12abc"',
        '"-1"',
        '" 3600"',
        '"3600 "',
        '"0x10"',
        '"1e3"',
        '""',
        '"\\u0661\\u0662"',
        "[3600]",
        '{"seconds": 3600}',
    ],
)
def test_tok_03_expires_in_that_is_negative_non_finite_or_junk_is_rejected(
    literal: str,
) -> None:
    body = f'{{"access_token": "{ACCESS_TOKEN}", "token_type": "Bearer", '
    body += f'"expires_in": {literal}}}'

    error = invalid(answer(body.encode()))

    assert ACCESS_TOKEN not in str(error)


def test_tok_03_expires_in_1e308_is_clamped_not_rejected() -> None:
    body = f'{{"access_token": "{ACCESS_TOKEN}", "token_type": "Bearer", '
    body += '"expires_in": 1e308}'

    result = parse(answer(body.encode()))

    assert result.expires_at == NOW + MAX_EXPIRES_IN


def test_tok_03_huge_integer_expires_in_is_clamped_not_a_crash() -> None:
    body = f'{{"access_token": "{ACCESS_TOKEN}", "token_type": "Bearer", '
    body += '"expires_in": 1' + "0" * 400 + "}"

    result = parse(answer(body.encode()))

    assert result.expires_at == NOW + MAX_EXPIRES_IN


def test_tok_03_huge_negative_integer_expires_in_is_rejected_not_a_crash() -> None:
    # min() left -10**400 as it was, and math.isfinite() raised OverflowError.
    body = f'{{"access_token": "{ACCESS_TOKEN}", "token_type": "Bearer", '
    body += '"expires_in": -1' + "0" * 400 + "}"

    error = invalid(answer(body.encode()))

    assert error.message == "the token response's expires_in is negative or not finite"


def test_tok_03_long_digit_string_is_clamped_or_rejected_cleanly() -> None:
    doc = tokens(expires_in="9" * 12)

    assert parse(answer(doc)).expires_at == NOW + MAX_EXPIRES_IN
    invalid(answer(tokens(expires_in="9" * 40)))


def test_max_expires_in_is_ten_years() -> None:
    assert MAX_EXPIRES_IN == 10 * 365 * 24 * 3600


# scope and unknown members (TOK-04, C16)


def test_tok_04_unknown_members_are_ignored() -> None:
    doc = tokens(
        expires_in=60,
        ext_expires_in=120,
        not_before_policy=0,
        session_state="abc",
        nested={"deep": [1, 2, {"x": None}]},
    )

    assert parse(answer(doc)).access_token == ACCESS_TOKEN


def test_tok_04_narrower_granted_scope_is_stored() -> None:
    result = parse(answer(tokens(scope="openid")), "openid profile email")

    assert result.scope == "openid"


def test_tok_04_missing_scope_means_the_requested_scope() -> None:
    assert parse(answer(tokens()), "openid profile").scope == "openid profile"


def test_c16_provider_adding_openid_is_stored_as_granted() -> None:
    result = parse(answer(tokens(scope="openid email profile")), "email profile")

    assert result.scope == "openid email profile"


def test_c16_provider_leaving_out_offline_access_is_not_an_error() -> None:
    doc = tokens(scope="openid profile", refresh_token=REFRESH_TOKEN)

    result = parse(answer(doc), "openid profile offline_access")

    assert result.scope == "openid profile"
    assert result.refresh_token == REFRESH_TOKEN


def test_c16_no_scope_field_stores_the_requested_scope() -> None:
    assert parse(answer(tokens()), "email profile").scope == "email profile"


def test_scope_that_is_not_a_string_is_rejected() -> None:
    invalid(answer(tokens(scope=["openid", "email"])))


@pytest.mark.parametrize(
    "scope",
    [
        "openid \ud800",
        "openid \x1b[2J",
        "openid \u202eevil",
        "openid\tprofile",
        "openid\nprofile",
        'openid "profile"',
        "openid pro\\file",
        "openid caf\u00e9",
        "openid\u00a0profile",
    ],
    ids=ascii,
)
def test_scope_outside_the_rfc_6749_grammar_is_rejected(scope: str) -> None:
    # The scope went into the stored login and TokenSet.scope as sent.
    error = invalid(answer(tokens(scope=scope)))

    assert "RFC 6749 section 3.3" in str(error)


@pytest.mark.parametrize(
    "scope",
    [
        "",
        "openid",
        "openid profile email offline_access",
        "api://orders/access_as_user https://graph.example/.default",
        "repo,gist",
        "a!#$%&'()*+,-./:;<=>?@[]^_`{|}~z",
    ],
)
def test_scope_of_nqchar_tokens_between_spaces_is_accepted(scope: str) -> None:
    assert parse(answer(tokens(scope=scope))).scope == scope


@pytest.mark.parametrize("member", ["access_token", "refresh_token", "id_token"])
@pytest.mark.parametrize("value", ["", 42, ["x"], {"x": 1}, True], ids=repr)
def test_token_members_must_be_non_empty_strings(member: str, value: object) -> None:
    doc = tokens(refresh_token=REFRESH_TOKEN)
    doc[member] = value

    invalid(answer(doc))


def test_response_without_access_token_is_rejected() -> None:
    invalid(answer({"token_type": "Bearer", "expires_in": 60}))


# error responses (TOK-06)


def test_tok_06_invalid_grant_keeps_the_rfc_fields_and_status() -> None:
    doc = {
        "error": "invalid_grant",
        "error_description": "The code was already used",
        "error_uri": "https://op.example.test/errors#invalid_grant",
    }

    with pytest.raises(EndpointError) as caught:
        parse(answer(doc, status=400))

    error = caught.value
    assert error.error == "invalid_grant"
    assert error.error_description == "The code was already used"
    assert error.error_uri == "https://op.example.test/errors#invalid_grant"
    assert error.status_code == 400
    assert error.endpoint == "token endpoint"
    assert "invalid_grant" in str(error)


def test_tok_06_invalid_client_with_401_is_an_endpoint_error() -> None:
    headers = {**JSON, "www-authenticate": 'Basic realm="op"'}
    response = answer({"error": "invalid_client"}, status=401, headers=headers)

    with pytest.raises(EndpointError) as caught:
        parse(response)

    assert caught.value.error == "invalid_client"
    assert caught.value.error_description is None
    assert caught.value.status_code == 401


def test_invalid_client_says_which_settings_to_check() -> None:
    doc = {"error": "invalid_client", "error_description": "bad secret"}

    with pytest.raises(EndpointError) as caught:
        parse(answer(doc, status=401))

    assert caught.value.message == (
        "the token endpoint (HTTP 401) answered invalid_client: bad secret; "
        "check --client-id, the client's credentials (--client-secret / "
        "OAUTHCLI_CLIENT_SECRET, or client_assertion_key and client_assertion_kid "
        "for private_key_jwt) and --token-endpoint-auth-method (the method the "
        "client is registered with)"
    )
    assert caught.value.error_description == "bad secret"  # the RFC field as sent


def test_tok_06_error_inside_a_200_is_an_endpoint_error() -> None:
    doc = tokens(error="access_denied", error_description="no")

    with pytest.raises(EndpointError) as caught:
        parse(answer(doc))

    assert caught.value.error == "access_denied"
    assert caught.value.error_description == "no"
    assert caught.value.status_code == 200


def test_tok_06_unknown_error_code_is_kept() -> None:
    with pytest.raises(EndpointError) as caught:
        parse(answer({"error": "vendor_specific_thing"}, status=400))

    assert caught.value.error == "vendor_specific_thing"


def test_tok_06_error_description_is_sanitised_in_the_message_only() -> None:
    description = "bad\x1b[31m code\u202e\nplease retry"
    doc = {"error": "invalid_grant", "error_description": description}

    with pytest.raises(EndpointError) as caught:
        parse(answer(doc, status=400))

    assert caught.value.error_description == description
    assert "\x1b" not in str(caught.value)
    assert "\u202e" not in str(caught.value)
    assert "\n" not in str(caught.value)


NON_JSON_BODIES = {
    "html": (
        "text/html",
        b"<html><body>Login failed for SECRET-MARKER-1234</body></html>",
    ),
    "text": ("text/plain", b"upstream error SECRET-MARKER-1234"),
    "form": (
        "application/x-www-form-urlencoded",
        b"error=invalid_grant&error_description=SECRET-MARKER-1234",
    ),
    "json-labelled-html": ("application/json", b"<html>SECRET-MARKER-1234</html>"),
    "empty": ("", b""),
}


@pytest.mark.parametrize("kind", sorted(NON_JSON_BODIES))
def test_tok_06_non_json_error_body_is_reported_without_its_text(kind: str) -> None:
    content_type, body = NON_JSON_BODIES[kind]
    response = Response(400, {"content-type": content_type}, body)

    with pytest.raises(TransportError) as caught:
        parse(response)

    assert caught.value.code == "http_error"
    assert "400" in str(caught.value)
    assert "SECRET-MARKER" not in str(caught.value)


@pytest.mark.parametrize("kind", sorted(NON_JSON_BODIES))
def test_tok_06_non_json_success_body_is_rejected_without_its_text(
    kind: str,
) -> None:
    content_type, body = NON_JSON_BODIES[kind]

    error = invalid(Response(200, {"content-type": content_type}, body))

    assert "SECRET-MARKER" not in str(error)


def test_tok_06_server_error_with_json_but_no_error_member_is_an_http_error() -> None:
    with pytest.raises(TransportError) as caught:
        parse(answer({"message": "internal"}, status=500))

    assert caught.value.code == "http_error"


# hostile JSON (TOK-07)


@pytest.mark.parametrize(
    "body",
    [
        b'[{"access_token": "x", "token_type": "Bearer"}]',
        b'"at-9f8e7d6c5b4a39281706"',
        b"42",
        b"null",
        b"\xff\xfe{}",
    ],
    ids=["array", "string", "number", "null", "not-utf-8"],
)
def test_tok_07_top_level_that_is_not_an_object_is_rejected(body: bytes) -> None:
    error = invalid(answer(body))

    assert ACCESS_TOKEN not in str(error)


def test_tok_07_duplicate_access_token_is_rejected() -> None:
    body = (
        b'{"access_token": "first-token", "token_type": "Bearer", '
        b'"access_token": "second-token"}'
    )

    error = invalid(answer(body))

    assert "first-token" not in str(error)
    assert "second-token" not in str(error)


def test_tok_07_duplicate_error_member_is_not_trusted() -> None:
    body = b'{"error": "invalid_grant", "error": "server_error"}'

    with pytest.raises(OAuthCLIError) as caught:
        parse(answer(body, status=400))

    assert not isinstance(caught.value, EndpointError)


@pytest.mark.parametrize("where", ["top-level", "inside-a-member"])
def test_tok_07_deep_nesting_is_rejected(where: str) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    if where == "top-level":
        body = nested
    else:
        body = b'{"access_token": "x", "token_type": "Bearer", "x": ' + nested + b"}"

    invalid(answer(body))


# client authentication (OIDF-14)


def test_oidf_14_none_sends_only_the_client_id_in_the_body() -> None:
    assert client_auth("cli-app", None, "none") == ({"client_id": "cli-app"}, {})


def test_oidf_14_client_secret_post_sends_both_in_the_body() -> None:
    body, headers = client_auth("cli-app", "s:+%\u00e9", "client_secret_post")

    assert body == {"client_id": "cli-app", "client_secret": "s:+%\u00e9"}
    assert headers == {}


def _basic_credentials(headers: dict[str, str]) -> str:
    scheme, _, encoded = headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(encoded, validate=True).decode("ascii")


def test_oidf_14_client_secret_basic_form_urlencodes_before_base64() -> None:
    body, headers = client_auth(
        "client:id+1", "s3cr:t+%\u00e9/\u00fc", "client_secret_basic"
    )

    assert body == {}
    assert list(headers) == ["Authorization"]
    assert (
        _basic_credentials(headers) == "client%3Aid%2B1:s3cr%3At%2B%25%C3%A9%2F%C3%BC"
    )


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("cli-app", "p:a:s:s"),
        ("cli app", "with space+plus"),
        ("c%41", "100%25"),
        ("\u00fcser", "\u5bc6\u7801\U0001f511"),
        ("cli-app", "=&?#;,"),
    ],
)
def test_oidf_14_client_secret_basic_round_trips_through_form_decoding(
    client_id: str, secret: str
) -> None:
    _, headers = client_auth(client_id, secret, "client_secret_basic")

    credentials = _basic_credentials(headers)

    assert credentials.count(":") == 1
    encoded_id, encoded_secret = credentials.split(":")
    assert unquote_plus(encoded_id) == client_id
    assert unquote_plus(encoded_secret) == secret


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_secret_methods_without_a_secret_are_refused(method: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        client_auth("cli-app", None, method)


def test_unknown_client_auth_method_is_refused() -> None:
    with pytest.raises(ValueError, match="private_key_jwt"):
        client_auth("cli-app", "s", "private_key_jwt")


# TokenSet


def test_token_set_repr_shows_no_token_text() -> None:
    token_set = TokenSet(
        access_token=ACCESS_TOKEN,
        refresh_token=REFRESH_TOKEN,
        id_token=ID_TOKEN,
        expires_at=NOW,
        scope="openid",
    )

    for shown in (repr(token_set), str(token_set), f"{token_set}"):
        assert ACCESS_TOKEN not in shown
        assert REFRESH_TOKEN not in shown
        assert ID_TOKEN not in shown
        assert "[redacted]" in shown
    assert "openid" in repr(token_set)


def test_token_set_repr_from_a_parsed_response_shows_no_token_text() -> None:
    doc = tokens(refresh_token=REFRESH_TOKEN, id_token=ID_TOKEN)

    shown = repr(parse(answer(doc)))

    assert ACCESS_TOKEN not in shown
    assert REFRESH_TOKEN not in shown
    assert ID_TOKEN not in shown


def test_token_set_round_trips_through_a_dict() -> None:
    token_set = TokenSet(
        access_token=ACCESS_TOKEN, refresh_token=REFRESH_TOKEN, expires_at=NOW
    )

    assert TokenSet.from_dict(token_set.to_dict()) == token_set
    assert token_set.expires_in(NOW - 30) == 30


@pytest.mark.parametrize("key", ["expires_at", "obtained_at"])
@pytest.mark.parametrize(
    "junk",
    [pytest.param(10**400, id="10**400"), float("inf"), float("nan"), True, "1"],
)
def test_a_stored_time_no_clock_could_write_makes_the_token_set_unusable(
    key: str, junk: object
) -> None:
    # Accepted before: expires_in() then raised OverflowError, or said inf.
    with pytest.raises(ValueError, match=f"^{key} is not a"):
        TokenSet.from_dict({"access_token": ACCESS_TOKEN, key: junk})


def test_the_last_second_of_year_9999_is_still_a_stored_time() -> None:
    tokens = TokenSet.from_dict(
        {"access_token": ACCESS_TOKEN, "expires_at": 253_402_300_799}
    )

    assert tokens.expires_at == 253_402_300_799.0
    assert tokens.expires_in(now=253_402_300_000.0) == 799.0


@pytest.mark.parametrize(
    "value",
    ["tok\r\nX-Injected: yes", "tok\x1b]0;title\x07", "jeton-é", "tab\there"],
)
@pytest.mark.parametrize("member", ["access_token", "refresh_token"])
def test_tokens_outside_visible_ascii_are_refused(member: str, value: str) -> None:
    body = {"access_token": "at", "token_type": "Bearer", member: value}
    response = Response(
        200, {"content-type": "application/json"}, json.dumps(body).encode()
    )
    with pytest.raises(ValidationError) as caught:
        parse_token_response(response, requested_scope=None, now=0)
    assert caught.value.code == "invalid_token_response"


def test_a_response_repr_never_shows_its_body() -> None:
    response = Response(200, {}, b'{"access_token": "SECRET-AT"}')
    assert "SECRET-AT" not in repr(response)
