"""Attach a profile's access token to HTTP requests (RFC 6750 section 2.1).

``BearerAuth`` is an ``httpx.Auth`` for sync and async clients;
``RequestsBearerAuth`` does the same for ``requests``. Both take a valid
token from the store before each request (refreshing it when it expires
within ``min_ttl``), and when the resource server refuses the token (401
with ``error="invalid_token"``, or a 401 with no challenge at all, as
GitHub's API answers) they refresh once and retry once. A token that cannot
be refreshed raises LoginRequired then.

A DPoP-bound token (RFC 9449 section 7) goes out as ``Authorization: DPoP``
with a fresh proof for each request (``htm``, ``htu``, ``ath``), never as
``Bearer``. A resource server's ``use_dpop_nonce`` challenge (section 9)
gets one retry with the nonce it sent, and its latest nonce is used for the
requests after that.

Redirects (RFC 6750 section 2.1, RFC 9449 section 4.3): the token and the
proof belong to the origin they were signed for. An answer from any other
origin (after a redirect the HTTP client followed) is returned as it is:
it causes no refresh, no retry and no nonce to be remembered. ``requests``
follows redirects under the auth class, so ``RequestsBearerAuth`` drops
``Authorization`` and ``DPoP`` from a hop to another origin and signs a new
proof for a hop to the same origin. ``httpx`` follows redirects beneath the
auth flow and copies every header but ``Authorization`` to the new URL, the
``DPoP`` proof included, where no ``httpx.Auth`` can reach it: with a
DPoP-bound token keep httpx's default ``follow_redirects=False``. If httpx
did follow a same-origin redirect, ``BearerAuth`` sends the last hop once
more with a proof of its own before it considers a refresh.

::

    with httpx.Client(auth=BearerAuth(profile="work")) as client:
        client.get("https://api.example.com/me")
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any
from urllib.parse import urljoin

import httpx

from .challenges import asks_for_dpop_nonce, is_invalid_token
from .dpop import NONCES
from .dpop import _origin as origin_of
from .refresh import DEFAULT_MIN_TTL, Credentials, get_credentials

__all__ = ["BearerAuth", "RequestsBearerAuth", "is_invalid_token"]

Origin = tuple[str, str, int | None]  # scheme, host, port


def _nonce_retry(credentials: Credentials, url: str, response: Any) -> bool:
    """Remember the answer's nonce; whether it asks for one more try with it."""
    nonce = NONCES.remember(url, response.headers)
    return (
        credentials.dpop_key is not None
        and nonce is not None
        and asks_for_dpop_nonce(response.status_code, response.headers)
    )


def _sign(headers: Any, credentials: Credentials, method: str, url: str) -> None:
    """Put the token (and a fresh DPoP proof) on a request's headers."""
    if "DPoP" in headers:
        del headers["DPoP"]
    headers.update(credentials.headers(method, url))


def _refused_hop(credentials: Credentials, response: httpx.Response) -> bool:
    """Whether a hop httpx followed with the first URL's proof was refused."""
    return (
        credentials.dpop_key is not None
        and bool(response.history)
        and response.status_code == 401
    )


def _redirect_method(method: str, status: int) -> str:
    """The method ``requests`` uses for the next hop (``rebuild_method``)."""
    if status in (302, 303) and method != "HEAD":
        return "GET"
    if status == 301 and method == "POST":
        return "GET"
    return method


def _prepare_hop(
    request: Any, response: Any, credentials: Credentials, origin: Origin
) -> None:
    """Headers for the hop ``requests`` copies from ``request`` next.

    A hop to the signed origin gets a new proof for its own URL and method;
    a hop to any other origin gets neither ``Authorization`` nor ``DPoP``.
    """
    from requests.utils import requote_uri

    target = urljoin(response.url, requote_uri(response.headers["location"]))
    try:
        same_origin = origin_of(target) == origin
    except ValueError:  # a port out of range, say: requests refuses the URL itself
        same_origin = False
    if same_origin:
        method = _redirect_method(request.method, response.status_code)
        _sign(request.headers, credentials, method, target)
    else:
        request.headers.pop("Authorization", None)
        request.headers.pop("DPoP", None)


class BearerAuth(httpx.Auth):
    """``httpx`` authentication with oauthcli's stored, refreshed token."""

    def __init__(
        self, profile: str | None = None, *, min_ttl: float = DEFAULT_MIN_TTL
    ) -> None:
        self.profile = profile
        self.min_ttl = min_ttl

    def __repr__(self) -> str:
        return f"BearerAuth(profile={self.profile!r})"

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        credentials = self._credentials(None)
        origin = origin_of(str(request.url))
        _sign(request.headers, credentials, request.method, str(request.url))
        response = yield request
        if origin_of(str(response.request.url)) != origin:
            return  # httpx followed a redirect to another origin
        request = response.request  # the last hop of a same-origin redirect
        url = str(request.url)
        if _refused_hop(credentials, response):
            _sign(request.headers, credentials, request.method, url)
            response = yield request
        if _nonce_retry(credentials, url, response):
            _sign(request.headers, credentials, request.method, url)
            response = yield request
            NONCES.remember(url, response.headers)
        if is_invalid_token(response.status_code, response.headers):
            fresh = self._credentials(credentials.tokens.access_token)
            _sign(request.headers, fresh, request.method, url)
            response = yield request
            NONCES.remember(url, response.headers)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        import anyio.to_thread  # the store and its lock are blocking

        credentials = await anyio.to_thread.run_sync(self._credentials, None)
        origin = origin_of(str(request.url))
        _sign(request.headers, credentials, request.method, str(request.url))
        response = yield request
        if origin_of(str(response.request.url)) != origin:
            return  # httpx followed a redirect to another origin
        request = response.request  # the last hop of a same-origin redirect
        url = str(request.url)
        if _refused_hop(credentials, response):
            _sign(request.headers, credentials, request.method, url)
            response = yield request
        if _nonce_retry(credentials, url, response):
            _sign(request.headers, credentials, request.method, url)
            response = yield request
            NONCES.remember(url, response.headers)
        if is_invalid_token(response.status_code, response.headers):
            fresh = await anyio.to_thread.run_sync(
                self._credentials, credentials.tokens.access_token
            )
            _sign(request.headers, fresh, request.method, url)
            response = yield request
            NONCES.remember(url, response.headers)

    def _credentials(self, rejected: str | None) -> Credentials:
        return get_credentials(self.profile, min_ttl=self.min_ttl, rejected=rejected)


class RequestsBearerAuth:
    """``requests`` authentication (``requests.get(url, auth=...)``)."""

    def __init__(
        self, profile: str | None = None, *, min_ttl: float = DEFAULT_MIN_TTL
    ) -> None:
        self.profile = profile
        self.min_ttl = min_ttl

    def __repr__(self) -> str:
        return f"RequestsBearerAuth(profile={self.profile!r})"

    def __call__(self, request: Any) -> Any:
        credentials = get_credentials(self.profile, min_ttl=self.min_ttl)
        _sign(request.headers, credentials, request.method, request.url)
        request.register_hook("response", self._retry(credentials, request.url))
        return request

    def _retry(self, credentials: Credentials, signed_url: str) -> Any:
        origin = origin_of(signed_url)

        def resend(response: Any, signed_with: Credentials, **kwargs: Any) -> Any:
            response.content  # noqa: B018 - drain, so the connection can be reused
            response.close()
            retry = response.request.copy()
            _sign(retry.headers, signed_with, retry.method, retry.url)
            retry.hooks = {"response": []}  # a copy shares the original's dict
            second = response.connection.send(retry, **kwargs)
            second.history = [*response.history, response]
            second.request = retry
            NONCES.remember(retry.url, second.headers)
            return second

        def hook(response: Any, **kwargs: Any) -> Any:
            # requests runs this hook for every hop of a redirect it follows.
            sent = response.request
            if origin_of(sent.url) != origin or "Authorization" not in sent.headers:
                return response  # another origin's answer, or one without our token
            signed_with = credentials
            if _nonce_retry(credentials, sent.url, response):
                response = resend(response, credentials, **kwargs)
            if is_invalid_token(response.status_code, response.headers):
                signed_with = get_credentials(
                    self.profile,
                    min_ttl=self.min_ttl,
                    rejected=credentials.tokens.access_token,
                )
                response = resend(response, signed_with, **kwargs)
            if response.is_redirect:
                # requests builds the next hop from the request this hook got
                _prepare_hop(sent, response, signed_with, origin)
            return response

        return hook
