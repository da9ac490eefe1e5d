"""Small encoders shared by the protocol modules."""

from __future__ import annotations

import base64
import binascii
import re
import secrets

__all__ = ["base64url_decode", "base64url_encode", "random_token"]

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
