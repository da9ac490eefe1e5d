"""oauthcli: log a command-line user in with OAuth 2.0 / OpenID Connect.

The public names load lazily (PEP 562), so that ``oauthcli token`` does not
pay for HTTP and JOSE imports it does not need.
"""

from __future__ import annotations

TYPE_CHECKING = False  # importing typing would cost `oauthcli token` milliseconds

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ._hints import set_commands
    from .auth import BearerAuth, RequestsBearerAuth
    from .constants import OAuth2Constants
    from .errors import (
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
    )
    from .exchange import ExchangedToken, TokenExchange, exchange_token
    from .oauth2 import OAuth2
    from .pkce import PKCE
    from .refresh import get_token, get_token_set
    from .revocation import logout
    from .session import LoginResult, login
    from .state import CSRFState
    from .tokens import TokenSet

__all__ = [
    "PKCE",
    "AuthorizationError",
    "BearerAuth",
    "CSRFState",
    "CallbackRejected",
    "Cancelled",
    "ConfigError",
    "EndpointError",
    "ExchangedToken",
    "LocalError",
    "LoginRequired",
    "LoginResult",
    "OAuth2",
    "OAuth2Constants",
    "OAuthCLIError",
    "ProviderError",
    "RequestsBearerAuth",
    "TokenExchange",
    "TokenSet",
    "TransportError",
    "ValidationError",
    "__version__",
    "exchange_token",
    "get_token",
    "get_token_set",
    "login",
    "logout",
    "set_commands",
]

_WHERE = {
    "PKCE": "pkce",
    "CSRFState": "state",
    "OAuth2": "oauth2",
    "OAuth2Constants": "constants",
    "TokenSet": "tokens",
    "login": "session",
    "LoginResult": "session",
    "get_token": "refresh",
    "get_token_set": "refresh",
    "logout": "revocation",
    "TokenExchange": "exchange",
    "ExchangedToken": "exchange",
    "exchange_token": "exchange",
    "set_commands": "_hints",
    "BearerAuth": "auth",
    "RequestsBearerAuth": "auth",
    "AuthorizationError": "errors",
    "CallbackRejected": "errors",
    "Cancelled": "errors",
    "ConfigError": "errors",
    "EndpointError": "errors",
    "LocalError": "errors",
    "LoginRequired": "errors",
    "OAuthCLIError": "errors",
    "ProviderError": "errors",
    "TransportError": "errors",
    "ValidationError": "errors",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'oauthcli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
