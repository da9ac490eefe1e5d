"""``CSRFState`` where code written against the Latch SDK looks for it.

The seed's ``latch_cli.auth.csrf`` module; the class lives in ``state``,
which holds the OIDC ``nonce`` too.
"""

from __future__ import annotations

from .state import CSRFState

__all__ = ["CSRFState"]
