"""Small encoders and a comparison shared by the protocol modules."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets

__all__ = [
    "base64url_decode",
    "base64url_encode",
    "equal_in_constant_time",
    "random_token",
]

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def base64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 7636 appendix A, RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def base64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`base64url_encode`.

    Padding, whitespace and characters outside the base64url alphabet are
    refused (the stdlib decoder would silently drop them).
    """
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:  # pragma: no cover - excluded by the regex
        raise ValueError("not base64url") from exc
    if base64url_encode(data) != text:
        raise ValueError("not canonical base64url (stray trailing bits)")
    return data


def random_token(nbytes: int = 32) -> str:
    """``nbytes`` from the CSPRNG, base64url encoded (43 characters for 32)."""
    return base64url_encode(secrets.token_bytes(nbytes))


def equal_in_constant_time(received: str, expected: str) -> bool:
    """Whether ``received`` is ``expected``, compared with ``hmac.compare_digest``.

    Text from outside may hold a lone surrogate (JSON's ``"\\ud800"``, or a
    pasted byte that was not UTF-8), which strict UTF-8 cannot encode; with
    ``surrogatepass`` it is compared like any other character instead of
    raising UnicodeEncodeError. The encoding stays one-to-one, so different
    strings never compare equal.
    """
    return hmac.compare_digest(
        received.encode("utf-8", "surrogatepass"),
        expected.encode("utf-8", "surrogatepass"),
    )
