"""Fuzz target: a token endpoint's answer, from status line to ``TokenSet``.

Run ``python fuzz/fuzz_token_response.py CORPUS_DIR -max_total_time=60``
(atheris), or ``make fuzz``. ``TestOneInput`` is also called directly,
without atheris, by tests/test_fuzz_smoke.py.

The first three bytes of an input pick the HTTP status, the Content-Type and
the scope separator; the rest is the body, as ``oauthcli.transport`` hands it
to ``parse_token_response``. Checked for every input: nothing but oauthcli's
typed errors escapes; tokens come only from a 200; every token is visible
ASCII; the lifetime is finite, not negative and clamped; the ``TokenSet``
survives the trip through the store's dictionary form; no error message
carries a control character.
"""

from __future__ import annotations

import json
import math
import unicodedata

from fuzzing import fuzz  # fuzz/ is on sys.path: the script's own directory

from oauthcli.errors import OAuthCLIError
from oauthcli.tokens import MAX_EXPIRES_IN, TokenSet, parse_token_response
from oauthcli.transport import Response

__all__ = ["SEEDS", "TestOneInput", "main", "response_of"]

NOW = 1_800_000_000.0
REQUESTED_SCOPE = "openid profile"
STATUSES = (200, 200, 200, 200, 400, 401, 403, 500, 503, 302, 204)
CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "",
    "text/html",
    "application/x-www-form-urlencoded",
)
SEPARATORS = (" ", ",")


def _seed(document: object, status: int = 0, kind: int = 0, sep: int = 0) -> bytes:
    return bytes([status, kind, sep]) + json.dumps(document).encode("utf-8")


SEEDS: list[bytes] = [
    _seed(
        {
            "access_token": "at-0123456789",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": "rt-0123456789",
            "id_token": "a.b.c",
            "scope": "openid profile",
        }
    ),
    _seed({"access_token": "gho_x", "token_type": "bearer", "scope": "a,b"}, sep=1),
    _seed({"access_token": "x", "token_type": "DPoP", "expires_in": "60"}),
    _seed({"access_token": "x", "token_type": "Bearer", "expires_in": 1e400}),
    _seed({"error": "invalid_grant", "error_description": "no\x1b[31m"}, status=4),
    _seed({"error": "slow_down"}),
    bytes([0, 0, 0]) + b'{"access_token": "a", "access_token": "b"}',
    bytes([0, 0, 0]) + b'{"access_token": "a", "token_type": "Bearer", "x": NaN}',
    bytes([0, 4, 0]) + b"access_token=a&token_type=bearer",
    bytes([7, 3, 0]) + b"<html>Internal Server Error</html>",
    bytes([0, 0, 0]) + b"[" * 5000,
    bytes([0, 0, 0]) + b"\xff\xfe{}",
]


def response_of(data: bytes) -> tuple[Response, str]:
    """The response an input stands for, and the scope separator to use."""
    head = data[:3].ljust(3, b"\0")
    status = STATUSES[head[0] % len(STATUSES)]
    content_type = CONTENT_TYPES[head[1] % len(CONTENT_TYPES)]
    headers = {"content-type": content_type} if content_type else {}
    return Response(status, headers, data[3:]), SEPARATORS[head[2] % 2]


def _visible(value: str | None) -> bool:
    return value is None or (bool(value) and all(" " <= ch <= "~" for ch in value))


def _clean(message: str) -> bool:
    return all(unicodedata.category(ch)[0] != "C" for ch in message)


def TestOneInput(data: bytes) -> None:  # the name atheris calls
    response, separator = response_of(data)
    try:
        tokens = parse_token_response(
            response,
            requested_scope=REQUESTED_SCOPE,
            now=NOW,
            scope_separator=separator,
        )
    except OAuthCLIError as exc:
        if not _clean(str(exc)):
            raise AssertionError("a control character in an error message") from exc
        return
    assert response.status_code == 200
    assert _visible(tokens.access_token)
    assert _visible(tokens.refresh_token)
    assert _visible(tokens.id_token)
    assert tokens.token_type == "Bearer"
    assert tokens.obtained_at == NOW
    if tokens.expires_at is not None:
        assert math.isfinite(tokens.expires_at)
        assert NOW <= tokens.expires_at <= NOW + MAX_EXPIRES_IN
    assert isinstance(tokens.scope, str)
    assert TokenSet.from_dict(tokens.to_dict()) == tokens
    assert "[redacted]" in repr(tokens)


def main() -> None:
    fuzz(TestOneInput)


if __name__ == "__main__":
    main()
