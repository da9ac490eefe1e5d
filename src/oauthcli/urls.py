"""Which URLs oauthcli will talk to or open (RFC 6749 section 10.9, RFC 9700 2.6).

Endpoints must be ``https``; plain ``http`` is allowed only on loopback hosts
(127.0.0.0/8, ``::1``, ``localhost``), for local providers and tests. No
option turns that off and no metadata can turn it on. URLs with credentials in
the authority, fragments, or any other scheme are refused before use.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .errors import ValidationError

__all__ = [
    "check_authority",
    "check_endpoint_url",
    "is_loopback_host",
    "normalize_issuer",
]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (brackets optional)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_authority(netloc: str) -> None:
    """Raise ValueError for a host or port the HTTP client would refuse.

    ``urlsplit`` takes ``[::1]x``, ``[v1.fe]`` or ``1.2.3.999`` as hosts;
    httpx, which sends the requests, does not. This applies httpx's rules
    with the standard library, where importing httpx would cost too much
    (reading config.toml): an IP literal in brackets must be an IPv6
    address, a dotted-digits host an IPv4 address, a port digits.
    """
    host_port = netloc.rpartition("@")[2]
    if host_port.startswith("["):
        host, bracket, port = host_port[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise ValueError("not an IP literal in brackets")
        ipaddress.IPv6Address(host)
        port = port[1:]
    else:
        host, _, port = host_port.partition(":")
        if all(part.isdigit() for part in host.split(".")) and host.count(".") == 3:
            ipaddress.IPv4Address(host)
    if port and not (port.isascii() and port.isdigit()):
        raise ValueError("not a port number")


def check_endpoint_url(url: object, what: str) -> str:
    """Return ``url`` if oauthcli may send requests to it, else raise.

    ``what`` names the URL in the error (``token_endpoint``, ``issuer``...).
    """
    if not isinstance(url, str) or not url:
        raise ValidationError(f"{what} is not a URL", code="invalid_metadata")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(
            f"{what} is not a valid URL", code="insecure_url"
        ) from exc
    del port
    if not url.isascii() or any(ch <= " " or ch == "\x7f" for ch in url):
        raise ValidationError(
            f"{what} contains whitespace, control or non-ASCII characters "
            "(internationalised hosts must be written in punycode)",
            code="insecure_url",
        )
    import httpx  # the client that will use the URL must parse it the same way

    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValidationError(
            f"{what} is not a valid URL", code="insecure_url"
        ) from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError(
            f"{what} must start with https:// (http:// only for 127.0.0.1, ::1 "
            "or localhost)",
            code="insecure_url",
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValidationError(
            f"{what} uses http:// on a host that is not loopback; https is required",
            code="insecure_url",
        )
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            f"{what} must not carry credentials in the URL", code="insecure_url"
        )
    if parts.fragment:
        raise ValidationError(f"{what} must not have a fragment", code="insecure_url")
    return url


def normalize_issuer(issuer: str) -> str:
    """Turn what a user typed into an issuer URL.

    A bare host (``tenant.auth0.com``, as the seed's ``authz_server_host``)
    means ``https://`` that host. Nothing else is rewritten.
    """
    issuer = issuer.strip()
    if "://" not in issuer:
        issuer = "https://" + issuer
    check_endpoint_url(issuer, "issuer")
    if urlsplit(issuer).query or "?" in issuer:
        raise ValidationError(
            "the issuer must not have a query (RFC 8414 section 2)", code="insecure_url"
        )
    return issuer
