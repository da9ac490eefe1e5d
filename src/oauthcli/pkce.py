"""Proof Key for Code Exchange with S256 only (RFC 7636).

``plain`` is never used (RFC 9700 section 2.1.1): a provider that offers only
``plain`` is refused at discovery.
"""

from __future__ import annotations

import hashlib
import re
from types import TracebackType
from typing import Final

from .errors import LocalError
from .utils import base64url_encode, random_token

__all__ = ["PKCE", "code_challenge", "new_code_verifier"]

# RFC 7636 section 4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-._~".
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def new_code_verifier() -> str:
    """A fresh verifier: 32 CSPRNG bytes, base64url, 43 characters."""
    return random_token(32)


def code_challenge(code_verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` (RFC 7636 section 4.2)."""
    if not _VERIFIER.fullmatch(code_verifier):
        raise ValueError("a code_verifier is 43-128 characters of [A-Za-z0-9-._~]")
    return base64url_encode(hashlib.sha256(code_verifier.encode("ascii")).digest())


def _empty(name: str) -> LocalError:
    return LocalError(
        f"no {name}: call construct_challenge() first (inside the with block)",
        code="flow_finished",
    )


class PKCE:
    """Context manager holding one login's code verifier and challenge.

    >>> with PKCE() as pkce:
    ...     verifier, challenge = pkce.construct_challenge()

    On exit the verifier and challenge are dropped; Python cannot scrub the
    memory of a ``str``, but nothing keeps a reference once the block ends.
    A wiped PKCE makes no new challenge until it is entered again.
    """

    challenge_method: Final = "S256"

    def __init__(self) -> None:
        self._verifier: str | None = None
        self._challenge: str | None = None
        self._wiped = False

    def __enter__(self) -> PKCE:
        self._wiped = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wipe()

    def construct_challenge(self) -> tuple[str, str]:
        """Create, keep and return a new ``(code_verifier, code_challenge)``."""
        if self._wiped:
            raise LocalError(
                "this PKCE was wiped when its with block ended; use it inside one",
                code="flow_finished",
            )
        verifier = new_code_verifier()
        self._verifier = verifier
        self._challenge = code_challenge(verifier)
        return verifier, self._challenge

    @property
    def verifier(self) -> str:
        if self._verifier is None:
            raise _empty("code_verifier")
        return self._verifier

    @property
    def challenge(self) -> str:
        if self._challenge is None:
            raise _empty("code_challenge")
        return self._challenge

    def wipe(self) -> None:
        """Forget the verifier and challenge."""
        self._verifier = None
        self._challenge = None
        self._wiped = True

    def __repr__(self) -> str:
        held = "held" if self._verifier is not None else "empty"
        return f"PKCE(challenge_method='S256', code_verifier=[redacted], {held})"
