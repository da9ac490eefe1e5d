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

::

    with httpx.Client(auth=BearerAuth(profile="work")) as client:
        client.get("https://api.example.com/me")
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

from .challenges import asks_for_dpop_nonce, is_invalid_token
from .dpop import NONCES
from .refresh import DEFAULT_MIN_TTL, Credentials, get_credentials

__all__ = ["BearerAuth", "RequestsBearerAuth", "is_invalid_token"]


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
        url = str(request.url)
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
        url = str(request.url)
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
        request.register_hook("response", self._retry(credentials))
        return request

    def _retry(self, credentials: Credentials) -> Any:
        def resend(response: Any, signed_with: Credentials, **kwargs: Any) -> Any:
            response.content  # noqa: B018 - drain, so the connection can be reused
            response.close()
            retry = response.request.copy()
            _sign(retry.headers, signed_with, retry.method, retry.url)
            retry.hooks["response"] = []  # no hook of ours on a retry
            second = response.connection.send(retry, **kwargs)
            second.history = [*response.history, response]
            second.request = retry
            NONCES.remember(retry.url, second.headers)
            return second

        def hook(response: Any, **kwargs: Any) -> Any:
            url = response.request.url
            if _nonce_retry(credentials, url, response):
                response = resend(response, credentials, **kwargs)
            if is_invalid_token(response.status_code, response.headers):
                fresh = get_credentials(
                    self.profile,
                    min_ttl=self.min_ttl,
                    rejected=credentials.tokens.access_token,
                )
                response = resend(response, fresh, **kwargs)
            return response

        return hook
