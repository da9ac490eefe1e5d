"""Provider metadata: OpenID Connect Discovery 1.0 and RFC 8414.

The document is fetched from ``/.well-known/openid-configuration`` (appended to
the issuer, OIDC Discovery section 4.1), then from
``/.well-known/oauth-authorization-server`` (inserted before the issuer's
path, RFC 8414 section 3.1). Its ``issuer`` must be the configured one; the
only tolerance is a single trailing ``/`` (Auth0 publishes ``https://host/``
while users type ``https://host``), and from then on the published string is
the one every ``iss`` is compared with. When neither document exists (404),
the Auth0 paths the seed used (``/authorize``, ``/oauth/token``) apply. A
client configured without discovery uses its explicit endpoints only
(``explicit_metadata``), under the same URL checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import TransportError, ValidationError
from .transport import HTTP
from .urls import check_endpoint_url

__all__ = [
    "ProviderMetadata",
    "discover",
    "explicit_metadata",
    "parse_metadata",
    "well_known_urls",
]

_ENDPOINTS = (
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "userinfo_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "device_authorization_endpoint",
    "end_session_endpoint",
    "pushed_authorization_request_endpoint",
)


@dataclass(frozen=True)
class ProviderMetadata:
    """The subset of the metadata oauthcli acts on, already checked."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str | None = None
    userinfo_endpoint: str | None = None
    revocation_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    end_session_endpoint: str | None = None
    pushed_authorization_request_endpoint: str | None = None
    authorization_response_iss_parameter_supported: bool = False
    require_pushed_authorization_requests: bool = False
    code_challenge_methods_supported: tuple[str, ...] | None = None
    id_token_signing_alg_values_supported: tuple[str, ...] | None = None
    dpop_signing_alg_values_supported: tuple[str, ...] | None = None
    from_discovery: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The endpoints and flags, for the token store."""
        return {
            key: value
            for key, value in {
                "issuer": self.issuer,
                "authorization_endpoint": self.authorization_endpoint,
                "token_endpoint": self.token_endpoint,
                "jwks_uri": self.jwks_uri,
                "userinfo_endpoint": self.userinfo_endpoint,
                "revocation_endpoint": self.revocation_endpoint,
                "device_authorization_endpoint": self.device_authorization_endpoint,
                "end_session_endpoint": self.end_session_endpoint,
                "authorization_response_iss_parameter_supported": (
                    self.authorization_response_iss_parameter_supported
                ),
            }.items()
            if value is not None
        }


def well_known_urls(issuer: str) -> tuple[str, str]:
    """The OIDC and RFC 8414 metadata URLs for ``issuer``, in that order."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oidc = urlunsplit(
        (parts.scheme, parts.netloc, f"{path}/.well-known/openid-configuration", "", "")
    )
    rfc8414 = urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            f"/.well-known/oauth-authorization-server{path}",
            "",
            "",
        )
    )
    return oidc, rfc8414


def _same_issuer(published: str, configured: str) -> bool:
    return published.removesuffix("/") == configured.removesuffix("/")


def _optional_str(doc: Mapping[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(
            f"provider metadata: {key} is not a string", code="invalid_metadata"
        )
    return value


def _optional_strings(doc: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(
            f"provider metadata: {key} is not a list of strings",
            code="invalid_metadata",
        )
    return tuple(value)


def parse_metadata(
    doc: Mapping[str, Any],
    configured_issuer: str,
    *,
    overrides: Mapping[str, str | None] | None = None,
    need_jwks: bool = True,
) -> ProviderMetadata:
    """Check a metadata document against the issuer the user configured.

    ``overrides`` (endpoint name to URL) win over the document. Raises
    ValidationError naming the member that is missing or wrong.
    """
    if not isinstance(doc, Mapping):
        raise ValidationError(
            "provider metadata is not a JSON object", code="invalid_metadata"
        )
    issuer = _optional_str(doc, "issuer")
    if issuer is None:
        raise ValidationError(
            "provider metadata has no issuer", code="invalid_metadata"
        )
    if not _same_issuer(issuer, configured_issuer):
        raise ValidationError(
            f"provider metadata names issuer {issuer!r}, not the configured "
            f"{configured_issuer!r} (OpenID Connect Discovery section 4.3)",
            code="issuer_mismatch",
        )
    check_endpoint_url(issuer, "issuer")

    endpoints: dict[str, str | None] = {}
    for key in _ENDPOINTS:
        value = (overrides or {}).get(key) or _optional_str(doc, key)
        endpoints[key] = check_endpoint_url(value, key) if value is not None else None
    for key in ("authorization_endpoint", "token_endpoint"):
        if endpoints[key] is None:
            raise ValidationError(
                f"provider metadata has no {key}", code="invalid_metadata"
            )
    if need_jwks and endpoints["jwks_uri"] is None:
        raise ValidationError(
            "provider metadata has no jwks_uri, so ID tokens cannot be checked",
            code="invalid_metadata",
        )

    response_types = _optional_strings(doc, "response_types_supported")
    if response_types is not None and "code" not in response_types:
        raise ValidationError(
            "provider metadata: response_types_supported does not include code",
            code="invalid_metadata",
        )
    methods = _optional_strings(doc, "code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        raise ValidationError(
            "the provider does not support PKCE with S256 "
            "(code_challenge_methods_supported); oauthcli never falls back to plain",
            code="unsupported",
        )
    iss_supported = doc.get("authorization_response_iss_parameter_supported", False)
    if not isinstance(iss_supported, bool):
        raise ValidationError(
            "provider metadata: authorization_response_iss_parameter_supported "
            "is not a boolean",
            code="invalid_metadata",
        )

    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"] or "",
        token_endpoint=endpoints["token_endpoint"] or "",
        jwks_uri=endpoints["jwks_uri"],
        userinfo_endpoint=endpoints["userinfo_endpoint"],
        revocation_endpoint=endpoints["revocation_endpoint"],
        device_authorization_endpoint=endpoints["device_authorization_endpoint"],
        end_session_endpoint=endpoints["end_session_endpoint"],
        pushed_authorization_request_endpoint=endpoints[
            "pushed_authorization_request_endpoint"
        ],
        authorization_response_iss_parameter_supported=iss_supported,
        require_pushed_authorization_requests=doc.get(
            "require_pushed_authorization_requests"
        )
        is True,
        code_challenge_methods_supported=methods,
        id_token_signing_alg_values_supported=_optional_strings(
            doc, "id_token_signing_alg_values_supported"
        ),
        dpop_signing_alg_values_supported=_optional_strings(
            doc, "dpop_signing_alg_values_supported"
        ),
        raw=dict(doc),
    )


def fallback_metadata(
    issuer: str, overrides: Mapping[str, str | None] | None = None
) -> ProviderMetadata:
    """The seed's Auth0 paths, for a server that publishes no metadata at all."""
    base = issuer.rstrip("/")
    doc = {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
    }
    parsed = parse_metadata(doc, issuer, overrides=overrides)
    return replace(parsed, from_discovery=False, raw={})


def explicit_metadata(
    issuer: str, endpoints: Mapping[str, str | None], *, need_jwks: bool = True
) -> ProviderMetadata:
    """The metadata of a provider configured without discovery.

    ``endpoints`` (metadata name to URL) are all there is: nothing is fetched
    and nothing is guessed. The URLs are checked like discovered ones.
    """
    doc = {"issuer": issuer, **{k: v for k, v in endpoints.items() if v}}
    parsed = parse_metadata(doc, issuer, need_jwks=need_jwks)
    return replace(parsed, from_discovery=False, raw={})


def discover(
    http: HTTP,
    issuer: str,
    *,
    overrides: Mapping[str, str | None] | None = None,
    need_jwks: bool = True,
) -> ProviderMetadata:
    """Fetch and check the provider's metadata (see the module docstring)."""
    not_found = 0
    for url in well_known_urls(issuer):
        response = http.get(url, what="discovery endpoint")
        if response.status_code in (404, 410):
            not_found += 1
            continue
        if response.status_code != 200:
            raise TransportError(
                f"the discovery endpoint answered HTTP {response.status_code}",
                code="http_error",
            )
        doc = response.json("the provider metadata")
        return parse_metadata(doc, issuer, overrides=overrides, need_jwks=need_jwks)
    return fallback_metadata(issuer, overrides)
