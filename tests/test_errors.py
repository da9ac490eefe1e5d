"""The error tree, provider error fields, and terminal-safe text."""

from __future__ import annotations

import pytest

from oauthcli import errors
from oauthcli.errors import (
    AuthorizationError,
    CallbackRejected,
    Cancelled,
    ConfigError,
    EndpointError,
    LocalError,
    LoginRequired,
    OAuthCLIError,
    ProviderError,
    TransportError,
    ValidationError,
    sanitize,
)

# sanitize


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b[2J\x1b[31mred\x1b[0m",
        "\x1b]8;;https://evil.example.test\x07link\x1b]8;;\x07",
        "\x9b31mred",
        "abc\u202edef",
        "\u2066isolate\u2069 \u200fmark",
        "nul\x00byte",
        "line\nbreak\r\nand\rreturn",
        "para\u2028graph\u2029end\x85nel",
        "tab\there\x0bvt\x0cff",
        "zero\u200bwidth\u200djoiner\ufeffbom",
        "lone\ud800surrogate",
        "private\ue000use",
        "unassigned\U000e0080",
    ],
    ids=repr,
)
def test_sanitize_removes_control_bidi_and_line_breaking_characters(
    hostile: str,
) -> None:
    cleaned = sanitize(hostile)

    assert cleaned.isprintable()
    assert all(ch == " " or not ch.isspace() for ch in cleaned)
    assert "  " not in cleaned
    assert cleaned == cleaned.strip()


def test_sanitize_keeps_the_visible_text() -> None:
    assert sanitize("\x1b[31mred\x1b[0m code") == "[31mred [0m code"
    assert sanitize("User cancelled\nthe login") == "User cancelled the login"
    assert sanitize("caf\u00e9 \u65e5\u672c") == "caf\u00e9 \u65e5\u672c"


def test_sanitize_truncates_to_the_limit() -> None:
    cleaned = sanitize("x" * 1000)

    assert len(cleaned) == 300
    assert cleaned.endswith("...")
    assert sanitize("y" * 20, limit=10) == "yyyyyyy..."
    assert sanitize("short", limit=10) == "short"


def test_sanitize_truncates_after_removing_control_characters() -> None:
    assert sanitize("\x00" * 500 + "visible", limit=10) == "visible"


# ProviderError and its branches


def test_provider_error_keeps_the_raw_fields_and_sanitises_its_message() -> None:
    description = "Denied\x1b[31m by \u202epolicy\nretry later"
    uri = "https://op.example.test/e?x=\x1b"

    error = ProviderError("access_denied", description, uri)

    assert error.error == "access_denied"
    assert error.error_description == description
    assert error.error_uri == uri
    assert error.code == "access_denied"
    shown = str(error)
    assert shown.isprintable()
    assert "access_denied" in shown
    assert "Denied" in shown
    assert "\x1b" not in shown
    assert "\u202e" not in shown


def test_provider_error_with_a_hostile_error_code_is_sanitised() -> None:
    raw = "invalid\x1b[2J_grant\n" + "z" * 200

    error = ProviderError(raw)

    assert error.error == raw
    assert str(error).isprintable()
    assert error.code.isprintable()
    assert len(error.code) <= 64


def test_provider_error_message_is_bounded() -> None:
    error = ProviderError("server_error", "x" * 10_000)

    assert len(str(error)) < 400


def test_authorization_error_names_the_authorization_server() -> None:
    error = AuthorizationError("login_required", "sign in first")

    assert isinstance(error, ProviderError)
    assert error.error == "login_required"
    assert "authorization server" in str(error)


def test_endpoint_error_keeps_endpoint_and_status() -> None:
    error = EndpointError(
        "invalid_grant", "expired", None, endpoint="token endpoint", status_code=400
    )

    assert error.endpoint == "token endpoint"
    assert error.status_code == 400
    assert error.error_uri is None
    assert "token endpoint" in str(error)
    assert "400" in str(error)


# The tree


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (ProviderError, OAuthCLIError),
        (AuthorizationError, ProviderError),
        (EndpointError, ProviderError),
        (ValidationError, OAuthCLIError),
        (CallbackRejected, ValidationError),
        (TransportError, OAuthCLIError),
        (LocalError, OAuthCLIError),
        (LoginRequired, LocalError),
        (Cancelled, LocalError),
        (ConfigError, LocalError),
        (OAuthCLIError, Exception),
    ],
)
def test_error_tree(child: type[Exception], parent: type[Exception]) -> None:
    assert issubclass(child, parent)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (OAuthCLIError, "error"),
        (ValidationError, "validation_failed"),
        (TransportError, "transport_failed"),
        (LocalError, "local_failure"),
        (LoginRequired, "not_logged_in"),
        (Cancelled, "cancelled"),
        (ConfigError, "invalid_config"),
    ],
)
def test_default_codes(kind: type[OAuthCLIError], code: str) -> None:
    assert kind("something failed").code == code


def test_instance_code_does_not_change_the_class_default() -> None:
    error = ValidationError("bad issuer", code="issuer_mismatch")

    assert error.code == "issuer_mismatch"
    assert ValidationError.code == "validation_failed"
    assert error.message == "bad issuer"


def test_errors_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(errors).items()
        if not name.startswith("_")
        and (
            (isinstance(value, type) and issubclass(value, Exception))
            or name == "sanitize"
        )
    }

    assert set(errors.__all__) == public
