"""Base64url and random tokens."""

from __future__ import annotations

import os
import re

import pytest

from oauthcli.utils import (
    base64url_decode,
    base64url_encode,
    equal_in_constant_time,
    random_token,
)


@pytest.mark.parametrize("size", range(0, 40))
def test_base64url_round_trips_without_padding(size: int) -> None:
    data = os.urandom(size)

    encoded = base64url_encode(data)

    assert "=" not in encoded
    assert re.fullmatch(r"[A-Za-z0-9_-]*", encoded)
    assert base64url_decode(encoded) == data


def test_base64url_uses_the_url_safe_alphabet() -> None:
    assert base64url_encode(b"\xfb\xff\xbf") == "-_-_"
    assert base64url_decode("-_-_") == b"\xfb\xff\xbf"


@pytest.mark.parametrize(
    "text",
    [
        "QQ==",
        "QQ=",
        "QUI=",
        "Q Q",
        " QQ",
        "QQ\n",
        "QQ\t",
        "+/+/",
        "QQ*",
        "QQ.",
        "QUJDR",
        "QQ\u00e9",
        "\uff31\uff31",
        "QQ\x00",
    ],
    ids=repr,
)
def test_base64url_decode_refuses_padding_whitespace_and_foreign_characters(
    text: str,
) -> None:
    with pytest.raises(ValueError, match="base64url"):
        base64url_decode(text)


def test_base64url_decode_of_empty_text_is_empty() -> None:
    assert base64url_decode("") == b""


def test_random_token_is_43_characters_for_32_bytes() -> None:
    token = random_token()

    assert len(token) == 43
    assert len(base64url_decode(token)) == 32


def test_random_token_length_follows_the_byte_count() -> None:
    assert len(base64url_decode(random_token(16))) == 16
    assert len(random_token(16)) == 22


def test_random_tokens_are_distinct() -> None:
    tokens = {random_token() for _ in range(1000)}

    assert len(tokens) == 1000


def test_base64url_with_stray_trailing_bits_is_refused() -> None:
    # "QR" and "QQ" would both decode to b"A"; only the canonical form passes.
    assert base64url_decode("QQ") == b"A"
    with pytest.raises(ValueError, match="canonical"):
        base64url_decode("QR")


@pytest.mark.parametrize(
    ("received", "expected", "equal"),
    [
        ("abc", "abc", True),
        ("abc", "abd", False),
        ("\ud800", "abc", False),
        ("abc\udc00", "abc", False),
        ("\ud800", "\ud800", True),
        ("\ud800", "\udc00", False),
        ("\u00e9", "\u00e9", True),
    ],
    ids=ascii,
)
def test_equal_in_constant_time_compares_any_string_without_raising(
    received: str, expected: str, equal: bool
) -> None:
    assert equal_in_constant_time(received, expected) is equal
