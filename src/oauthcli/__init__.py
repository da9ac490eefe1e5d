"""oauthcli: log a command-line user in with OAuth 2.0 / OpenID Connect.

The public names load lazily (PEP 562), so that ``oauthcli token`` does not
pay for HTTP and JOSE imports it does not need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .constants import OAuth2Constants
    from .errors import (
        AuthorizationError,
        CallbackRejected,
        Cancelled,
        EndpointError,
        LocalError,
        LoginRequired,
        OAuthCLIError,
        ProviderError,
        TransportError,
        ValidationError,
    )
    from .login import login
    from .oauth2 import OAuth2
    from .pkce import PKCE
    from .state import CSRFState
    from .tokens import TokenSet

__all__ = [
    "PKCE",
    "AuthorizationError",
    "CSRFState",
    "CallbackRejected",
    "Cancelled",
    "EndpointError",
    "LocalError",
    "LoginRequired",
    "OAuth2",
    "OAuth2Constants",
    "OAuthCLIError",
    "ProviderError",
    "TokenSet",
    "TransportError",
    "ValidationError",
    "__version__",
    "login",
]

_WHERE = {
    "PKCE": "pkce",
    "CSRFState": "state",
    "OAuth2": "oauth2",
    "OAuth2Constants": "constants",
    "TokenSet": "tokens",
    "login": "login",
    "AuthorizationError": "errors",
    "CallbackRejected": "errors",
    "Cancelled": "errors",
    "EndpointError": "errors",
    "LocalError": "errors",
    "LoginRequired": "errors",
    "OAuthCLIError": "errors",
    "ProviderError": "errors",
    "TransportError": "errors",
    "ValidationError": "errors",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'oauthcli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
