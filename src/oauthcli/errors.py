"""Every failure oauthcli raises, grouped by where it came from.

::

    OAuthCLIError                 root; ``code`` is stable and machine-readable
    ├── ProviderError             the provider said no; RFC 6749 fields kept as sent
    │   ├── AuthorizationError    on the redirect back (RFC 6749 section 4.1.2.1)
    │   └── EndpointError         in an endpoint's error body (RFC 6749 section 5.2)
    ├── ValidationError           our own check of what the provider sent failed
    │   └── CallbackRejected      a callback that does not belong to this login
    ├── TransportError            the back channel failed (network, TLS, size, 3xx)
    └── LocalError                this machine failed (port, browser, store, time)
        ├── LoginRequired         no usable tokens: the user must log in again
        ├── Cancelled             the user pressed Ctrl-C
        └── ConfigError           the config file or an OAUTHCLI_* variable is wrong

Provider errors carry ``error``, ``error_description`` and ``error_uri``
unchanged (sanitised only when shown). Our own failures never use the RFC
``error`` field: they have their own ``code`` values, listed with each raise.
No message ever contains a token, code, verifier, state, nonce or secret.
"""

from __future__ import annotations

__all__ = [
    "AuthorizationError",
    "CallbackRejected",
    "Cancelled",
    "ConfigError",
    "EndpointError",
    "LocalError",
    "LoginRequired",
    "OAuthCLIError",
    "ProviderError",
    "TransportError",
    "ValidationError",
    "sanitize",
]


def _is_rfc_error_code(text: str) -> bool:
    """RFC 6749 appendix A.7: printable ASCII without '"' and '\\'."""
    return 0 < len(text) <= 128 and all(
        " " <= ch <= "~" and ch not in '"\\' for ch in text
    )


def sanitize(text: str, limit: int = 300) -> str:
    """Make provider text safe for a terminal: no control or bidi characters.

    Everything in Unicode categories Cc, Cf, Cs, Co and Cn (escape sequences,
    bidirectional overrides, unassigned code points) becomes a space, runs of
    whitespace collapse, and the result is cut to ``limit`` characters.
    """
    import unicodedata  # only when provider text is shown

    cleaned = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3] + "..."
    return cleaned


class OAuthCLIError(Exception):
    """Root of every error oauthcli raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.code


class ProviderError(OAuthCLIError):
    """The authorization server refused, with an RFC 6749 error response."""

    def __init__(
        self,
        error: str,
        error_description: str | None = None,
        error_uri: str | None = None,
        *,
        context: str = "the provider",
        hint: str = "",
    ) -> None:
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri
        shown = error if _is_rfc_error_code(error) else sanitize(error, 64)
        message = f"{context} answered {shown}"
        if error_description:
            message += f": {sanitize(error_description)}"
        if hint:
            message += f"; {hint}"
        super().__init__(message, code=shown)


class AuthorizationError(ProviderError):
    """An error on the redirect back from the authorization endpoint."""

    def __init__(
        self,
        error: str,
        error_description: str | None = None,
        error_uri: str | None = None,
    ) -> None:
        super().__init__(
            error, error_description, error_uri, context="the authorization server"
        )


class EndpointError(ProviderError):
    """An endpoint (token, revocation, device, ...) answered with an error body."""

    def __init__(
        self,
        error: str,
        error_description: str | None = None,
        error_uri: str | None = None,
        *,
        endpoint: str,
        status_code: int,
        hint: str = "",
    ) -> None:
        self.endpoint = endpoint
        self.status_code = status_code
        super().__init__(
            error,
            error_description,
            error_uri,
            context=f"the {endpoint} (HTTP {status_code})",
            hint=hint,
        )


class ValidationError(OAuthCLIError):
    """Something the provider sent failed one of our checks.

    Codes: ``invalid_metadata``, ``issuer_mismatch``, ``state_mismatch``,
    ``invalid_callback``, ``invalid_token_response``, ``invalid_id_token``,
    ``insecure_url``, ``unsupported``, ``missing_scope``,
    ``invalid_par_response``.
    """

    code = "validation_failed"


class CallbackRejected(ValidationError):
    """A request to the loopback listener that is not this login's callback.

    The listener answers it with 400 and keeps waiting, so that a local process
    cannot end somebody else's login by sending a forged callback.
    """


class TransportError(OAuthCLIError):
    """The back channel failed before a usable answer arrived.

    Codes: ``connect_failed``, ``timeout`` (the server went quiet; the
    connection is closed), ``deadline_exceeded`` (the whole exchange took too
    long; its outcome is unknown), ``tls_verification_failed``,
    ``unexpected_redirect``, ``response_too_large``, ``invalid_response``,
    ``http_error`` (``status_code`` says which, when an answer came).
    """

    code = "transport_failed"

    def __init__(
        self, message: str, *, code: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code


class LocalError(OAuthCLIError):
    """This machine could not do its part.

    Codes: ``port_in_use``, ``no_free_port``, ``timeout``, ``browser_failed``,
    ``store_failed``, ``invalid_argument``, ``dpop_bound`` (a DPoP-bound
    token asked for by a program that can only send Bearer tokens),
    ``flow_finished`` (an ``OAuth2`` flow, ``PKCE`` or ``CSRFState`` used
    again, out of order or after its ``with`` block: one login each).
    """

    code = "local_failure"


class LoginRequired(LocalError):
    """No usable token is stored: the user has to log in (again)."""

    code = "not_logged_in"


class Cancelled(LocalError):
    """The user cancelled the login (Ctrl-C)."""

    code = "cancelled"


class ConfigError(LocalError):
    """The config file, an ``OAUTHCLI_*`` variable or a preset cannot be used.

    The message names the file and line, the variable or the flag, and the
    key. ``key`` is the option the problem is about, when there is one.
    """

    code = "invalid_config"

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
