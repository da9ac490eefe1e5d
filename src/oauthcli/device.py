"""The device authorization grant (RFC 8628), for machines without a browser.

The client asks the ``device_authorization_endpoint`` for a ``device_code``
and a ``user_code`` (section 3.2), the user enters the code at the
``verification_uri`` on any other device, and the client polls the token
endpoint (section 3.4) exactly as section 3.5 says: every ``interval``
seconds (5 when the provider gives none), 5 s more after each ``slow_down``,
on through ``authorization_pending``, and never after ``expires_in``.
``access_denied`` and ``expired_token`` end it at once. Transient failures
(timeouts, 5xx, 429) back off exponentially within the same deadline.
The clock and the sleep are injectable, so the timing is tested without
waiting.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._log import log
from .dpop import DPoPKey, post_form
from .errors import (
    Cancelled,
    EndpointError,
    LocalError,
    TransportError,
    ValidationError,
    sanitize,
)
from .tokens import TokenSet, parse_token_response, raise_for_error_response
from .transport import HTTP
from .urls import check_endpoint_url

__all__ = [
    "DEVICE_CODE_GRANT",
    "DeviceAuthorization",
    "parse_device_authorization",
    "poll_for_tokens",
    "request_device_authorization",
]

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5.0
SLOW_DOWN_STEP = 5.0
MAX_INTERVAL = 60.0
MAX_USER_CODE = 64
MAX_SECONDS = 24 * 3600.0
_DIGITS = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class DeviceAuthorization:
    """The provider's answer to a device authorization request."""

    device_code: str = field(repr=False)
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float
    interval: float


def _optional(doc: Mapping[str, Any], key: str) -> str | None:
    return None if doc.get(key) is None else _string(doc, key)


def _string(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise ValidationError(
            f"the device authorization response has no valid {key}",
            code="invalid_response",
        )
    return value


def _seconds(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    # "not > 0" refuses NaN too, which would make time.sleep() raise.
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValidationError(
            f"the device authorization response's {key} is not a positive number",
            code="invalid_response",
        )
    return float(min(value, MAX_SECONDS))  # min() first: huge ints overflow float()


def parse_device_authorization(doc: Mapping[str, Any]) -> DeviceAuthorization:
    """Check an RFC 8628 section 3.2 response (DEV-01, DEV-08)."""
    device_code = _string(doc, "device_code")
    user_code = _string(doc, "user_code")
    uri = _string(doc, "verification_uri")
    complete = _optional(doc, "verification_uri_complete")
    expires_in = _seconds(doc.get("expires_in"), "expires_in")
    if expires_in is None:
        raise ValidationError(
            "the device authorization response has no expires_in",
            code="invalid_response",
        )
    interval = _seconds(doc.get("interval"), "interval") or DEFAULT_INTERVAL
    if len(user_code) > MAX_USER_CODE or sanitize(user_code) != user_code:
        raise ValidationError(
            "the device authorization response's user_code is too long or has "
            "control characters",
            code="invalid_response",
        )
    check_endpoint_url(uri, "verification_uri")
    if complete is not None:
        check_endpoint_url(complete, "verification_uri_complete")
    return DeviceAuthorization(
        device_code=device_code,
        user_code=user_code,
        verification_uri=uri,
        verification_uri_complete=complete,
        expires_in=expires_in,
        interval=max(interval, 1.0),
    )


def request_device_authorization(
    http: HTTP,
    endpoint: str,
    form: Mapping[str, str],
    headers: Mapping[str, str],
) -> DeviceAuthorization:
    """POST the device authorization request (RFC 8628 section 3.1)."""
    response = http.post_form(
        endpoint, form, what="device authorization endpoint", headers=headers
    )
    raise_for_error_response(response, "device authorization endpoint")
    return parse_device_authorization(
        response.json("the device authorization response")
    )


def poll_for_tokens(
    http: HTTP,
    token_endpoint: str,
    device: DeviceAuthorization,
    form: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    requested_scope: str | None,
    scope_separator: str = " ",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    dpop_key: DPoPKey | None = None,
) -> TokenSet:
    """Poll the token endpoint until the user approves, refuses, or time runs out.

    An error is one whatever the HTTP status: GitHub answers
    ``authorization_pending`` and ``slow_down`` with 200. With ``dpop_key``
    every poll carries a DPoP proof and the token must be DPoP-bound.
    """
    deadline = clock() + device.expires_in
    interval = device.interval
    backoff = 0.0
    body = {"grant_type": DEVICE_CODE_GRANT, "device_code": device.device_code, **form}
    try:
        while True:
            wait = interval + backoff
            if clock() + wait >= deadline:
                raise LocalError(
                    "the device code expired before the login was approved; "
                    "run the login again",
                    code="expired_token",
                )
            sleep(wait)
            try:
                response = post_form(
                    http,
                    token_endpoint,
                    body,
                    what="token endpoint",
                    headers=headers,
                    key=dpop_key,
                )
                if response.status_code in (429, 500, 502, 503, 504):
                    raise TransportError(
                        f"the token endpoint answered HTTP {response.status_code}",
                        code="http_error",
                    )
                return parse_token_response(
                    response,
                    requested_scope=requested_scope,
                    scope_separator=scope_separator,
                    dpop=dpop_key is not None,
                )
            except EndpointError as exc:
                backoff = 0.0
                if exc.error == "authorization_pending":
                    continue
                if exc.error == "slow_down":
                    interval = min(interval + SLOW_DOWN_STEP, MAX_INTERVAL)
                    log.info(
                        "the provider asked to slow down; polling every %g s", interval
                    )
                    continue
                raise
            except TransportError as exc:
                if exc.code not in ("timeout", "http_error", "connect_failed"):
                    raise
                backoff = min(max(backoff * 2, interval), MAX_INTERVAL)
                log.info("polling failed (%s); backing off %g s", exc.code, backoff)
    except KeyboardInterrupt:
        raise Cancelled("login cancelled") from None
