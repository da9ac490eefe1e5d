"""Pushed authorization requests (RFC 9126).

The authorization parameters (``state``, ``nonce``, ``code_challenge``,
``redirect_uri`` ...) are POSTed to the provider's
``pushed_authorization_request_endpoint``, with the client's authentication
when it has any (section 2.1), and with a DPoP proof when the login is
DPoP-bound (RFC 9449 section 10.1). The answer, ``201`` with a
``request_uri`` and a positive ``expires_in`` (section 2.2), is all the
browser's URL then carries besides ``client_id`` (section 4): the login's
secrets never appear in the address bar, the history or a proxy's log.

Used when the provider's metadata says
``require_pushed_authorization_requests`` or the profile asks for it
(``par = true``). There is no fallback to a plain authorization request once
PAR was chosen: an error at the PAR endpoint ends the login.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._log import log
from .errors import ValidationError
from .tokens import raise_for_error_response

if TYPE_CHECKING:
    from .dpop import DPoPKey
    from .transport import HTTP, Response

__all__ = [
    "PushedRequest",
    "authorization_url_params",
    "parse_par_response",
    "push_authorization_request",
]

ENDPOINT = "pushed authorization request endpoint"
MAX_REQUEST_URI_LENGTH = 2048


@dataclass(frozen=True)
class PushedRequest:
    """The provider's reference to the pushed parameters (RFC 9126 section 2.2)."""

    request_uri: str = field(repr=False)
    expires_in: int


def parse_par_response(response: Response) -> PushedRequest:
    """Check the PAR endpoint's answer: errors first, then 201, then the members."""
    if response.status_code != 201:
        # An error body at any status is the provider's EndpointError; any
        # other status (a 200 included) is refused as it is.
        raise_for_error_response(response, ENDPOINT)
        raise ValidationError(
            f"the {ENDPOINT} answered HTTP {response.status_code}, not 201 "
            "(RFC 9126 section 2.2)",
            code="invalid_par_response",
        )
    document = response.json(f"the {ENDPOINT}'s answer")
    if isinstance(document.get("error"), str):
        raise_for_error_response(response, ENDPOINT)

    request_uri = document.get("request_uri")
    if not isinstance(request_uri, str) or not request_uri:
        raise ValidationError(
            f"the {ENDPOINT}'s answer has no request_uri string",
            code="invalid_par_response",
        )
    if len(request_uri) > MAX_REQUEST_URI_LENGTH or not all(
        "!" <= ch <= "~" for ch in request_uri
    ):
        raise ValidationError(
            f"the {ENDPOINT}'s request_uri is too long or not visible ASCII",
            code="invalid_par_response",
        )

    expires_in = document.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise ValidationError(
            f"the {ENDPOINT}'s expires_in is missing or not a whole number",
            code="invalid_par_response",
        )
    if expires_in <= 0:
        raise ValidationError(
            f"the {ENDPOINT}'s expires_in is not positive",
            code="invalid_par_response",
        )
    return PushedRequest(request_uri=request_uri, expires_in=expires_in)


def authorization_url_params(client_id: str, pushed: PushedRequest) -> dict[str, str]:
    """What the browser's URL carries after a push (RFC 9126 section 4)."""
    return {"client_id": client_id, "request_uri": pushed.request_uri}


def push_authorization_request(
    http: HTTP,
    endpoint: str,
    params: Mapping[str, str],
    *,
    auth_body: Mapping[str, str],
    auth_headers: Mapping[str, str],
    dpop_key: DPoPKey | None,
) -> PushedRequest:
    """POST the authorization parameters and return the checked answer."""
    from .dpop import post_form

    log.info("pushing the authorization request to %s", endpoint)
    response = post_form(
        http,
        endpoint,
        {**params, **auth_body},
        what=ENDPOINT,
        headers=auth_headers,
        key=dpop_key,
    )
    pushed = parse_par_response(response)
    log.info("the pushed request is valid for %s s", pushed.expires_in)
    return pushed
