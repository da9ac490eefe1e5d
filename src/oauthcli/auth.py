"""Attach a profile's access token to HTTP requests (RFC 6750 section 2.1).

``BearerAuth`` is an ``httpx.Auth`` for sync and async clients;
``RequestsBearerAuth`` does the same for ``requests``. Both take a valid
token from the store before each request (refreshing it when it expires
within ``min_ttl``), and when the resource server refuses the token (401
with ``error="invalid_token"``, or a 401 with no challenge at all, as
GitHub's API answers) they refresh once and retry once. A token that cannot
be refreshed raises LoginRequired then.

::

    with httpx.Client(auth=BearerAuth(profile="work")) as client:
        client.get("https://api.example.com/me")
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Generator, Mapping
from typing import Any

import httpx

from .refresh import DEFAULT_MIN_TTL, get_token_set
from .tokens import TokenSet

__all__ = ["BearerAuth", "RequestsBearerAuth", "is_invalid_token"]

_INVALID_TOKEN = re.compile(r'error\s*=\s*"?invalid_token"?', re.IGNORECASE)


def is_invalid_token(status_code: int, headers: Mapping[str, str]) -> bool:
    """A 401 that refuses the token sent (RFC 6750 section 3.1).

    That is a Bearer challenge with ``invalid_token``, or no challenge at all
    (RFC 9110 requires one; GitHub's API sends none when a token is dead).
    Other challenges (``insufficient_scope``, another scheme) are not about
    the token's validity, and a refresh would not help.
    """
    if status_code != 401:
        return False
    challenge = headers.get("www-authenticate") or headers.get("WWW-Authenticate")
    if challenge is None or not challenge.strip():
        return True
    return challenge.lower().lstrip().startswith("bearer") and bool(
        _INVALID_TOKEN.search(challenge)
    )


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
        token = get_token_set(self.profile, min_ttl=self.min_ttl).access_token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if is_invalid_token(response.status_code, response.headers):
            fresh = get_token_set(self.profile, min_ttl=self.min_ttl, rejected=token)
            request.headers["Authorization"] = f"Bearer {fresh.access_token}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        import anyio.to_thread  # the store and its lock are blocking

        token_set = await anyio.to_thread.run_sync(self._token_set, None)
        request.headers["Authorization"] = f"Bearer {token_set.access_token}"
        response = yield request
        if is_invalid_token(response.status_code, response.headers):
            fresh = await anyio.to_thread.run_sync(
                self._token_set, token_set.access_token
            )
            request.headers["Authorization"] = f"Bearer {fresh.access_token}"
            yield request

    def _token_set(self, rejected: str | None) -> TokenSet:
        return get_token_set(self.profile, min_ttl=self.min_ttl, rejected=rejected)


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
        token = get_token_set(self.profile, min_ttl=self.min_ttl).access_token
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._retry_once(token))
        return request

    def _retry_once(self, token: str) -> Any:
        def hook(response: Any, **kwargs: Any) -> Any:
            if not is_invalid_token(response.status_code, response.headers):
                return response
            fresh = get_token_set(self.profile, min_ttl=self.min_ttl, rejected=token)
            response.content  # noqa: B018 - drain, so the connection can be reused
            response.close()
            retry = response.request.copy()
            retry.headers["Authorization"] = f"Bearer {fresh.access_token}"
            retry.hooks["response"] = []  # one retry only
            second = response.connection.send(retry, **kwargs)
            second.history.append(response)
            second.request = retry
            return second

        return hook
