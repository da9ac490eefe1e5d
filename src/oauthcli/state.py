"""The ``state`` and OIDC ``nonce`` values of one login.

``state`` binds the redirect back to the request that this process sent
(RFC 6749 section 10.12, RFC 9700 section 4.7); ``nonce`` binds the ID token
to it (OpenID Connect Core section 3.1.2.1). Both are 32 CSPRNG bytes.
"""

from __future__ import annotations

from types import TracebackType

from .errors import LocalError
from .utils import random_token

__all__ = ["CSRFState"]


def _wiped() -> LocalError:
    return LocalError(
        "this CSRFState was wiped when its with block ended; use it inside one",
        code="flow_finished",
    )


class CSRFState:
    """Context manager holding a fresh, unguessable ``state`` and ``nonce``.

    >>> with CSRFState() as csrf:
    ...     len(csrf.state)
    43

    Both are dropped when the block ends; entering the object again makes
    new ones. They serve one authorization request: ``mark_sent`` records
    that it was made, and refuses a second.
    """

    def __init__(self) -> None:
        self._state: str | None = random_token(32)
        self._nonce: str | None = random_token(32)
        self._sent = False

    def __enter__(self) -> CSRFState:
        if self._state is None:
            self._state, self._nonce = random_token(32), random_token(32)
            self._sent = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.wipe()

    @property
    def state(self) -> str:
        if self._state is None:
            raise _wiped()
        return self._state

    @property
    def nonce(self) -> str:
        if self._nonce is None:
            raise _wiped()
        return self._nonce

    def mark_sent(self) -> None:
        """Record that the state and nonce go out in an authorization request.

        Raises ``LocalError`` ``flow_finished`` if they already went out in
        one (another flow's): a retry needs new values.
        """
        if self._state is None:
            raise _wiped()
        if self._sent:
            raise LocalError(
                "this CSRFState's state and nonce were sent in another authorization "
                "request; a retry needs a new CSRFState",
                code="flow_finished",
            )
        self._sent = True

    def wipe(self) -> None:
        self._state = None
        self._nonce = None

    def __repr__(self) -> str:
        return "CSRFState(state=[redacted], nonce=[redacted])"
