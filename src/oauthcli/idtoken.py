"""ID token validation (OpenID Connect Core section 3.1.3.7) and the JWKS cache.

The checks, in order: compact JWS syntax, header (``alg`` allowed, no ``crit``
we do not understand; ``jku``/``x5u``/``jwk``/``x5c`` are ignored: keys come
only from the issuer's ``jwks_uri``), signature with a key from that JWKS,
then the claims: ``iss`` exact (the issuer, or an alias the caller configured),
``aud`` contains the client, ``azp``, ``exp``, ``iat`` (not in the future, not
too old), ``nbf``, ``nonce``, ``at_hash``.
Settled policies (shared/cases/security-checklist.md section 5): signatures are
always verified; ``alg=none`` is refused; a token without ``kid`` is tried
against at most five matching keys; an unknown ``kid`` refetches the JWKS at
most once per minute per issuer.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError
from .utils import base64url_decode, base64url_encode, equal_in_constant_time

__all__ = ["JWKSCache", "validate_id_token"]

ASYMMETRIC_ALGS = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}
SYMMETRIC_ALGS = ("HS256", "HS384", "HS512")
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
MAX_KEYS_WITHOUT_KID = 5
REFETCH_INTERVAL = 60.0
DEFAULT_MAX_AGE = 3600.0


def _invalid(message: str) -> ValidationError:
    return ValidationError(f"ID token rejected: {message}", code="invalid_id_token")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(base64url_decode(segment), parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:  # deep nesting: a few KB do it
        raise _invalid(f"its {what} is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise _invalid(f"its {what} is not a JSON object")
    return value


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    fetched_at: float
    refetched_at: float | None = None


class JWKSCache:
    """JSON Web Key Sets by issuer; never shared across issuers.

    ``fetch(jwks_uri)`` returns the JWKS document; the cache refetches when a
    ``kid`` is unknown, at most once per ``REFETCH_INTERVAL`` per issuer.
    Each issuer's JWKS is fetched by one thread at a time, and a slow one
    holds up only the logins at that issuer (checklist MIX-09).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._clock = clock
        self._lock = threading.Lock()  # guards the two dicts, never a fetch
        self._fetching: dict[tuple[str, str], threading.Lock] = {}

    def keys(
        self,
        issuer: str,
        jwks_uri: str,
        fetch: Callable[[str], Mapping[str, Any]],
        *,
        refresh: bool = False,
    ) -> list[dict[str, Any]]:
        cache_key = (issuer, jwks_uri)
        with self._lock:
            fetching = self._fetching.setdefault(cache_key, threading.Lock())
        # Held across the fetch: a thread that waited here finds the entry
        # the first one fetched instead of fetching it again.
        with fetching:
            with self._lock:
                entry = self._entries.get(cache_key)
            now = self._clock()
            # Only refetches are rate-limited: a rotation right after the first
            # fetch must still be picked up once (OIDF-19, OIDF-20).
            stale = entry is None or (
                refresh
                and (
                    entry.refetched_at is None
                    or now - entry.refetched_at >= REFETCH_INTERVAL
                )
            )
            if stale:
                document = fetch(jwks_uri)
                keys = document.get("keys")
                if not isinstance(keys, list):
                    raise _invalid("the provider's JWKS has no keys list")
                entry = _Entry(
                    [k for k in keys if isinstance(k, dict)],
                    now,
                    refetched_at=now if entry is not None else None,
                )
                with self._lock:
                    self._entries[cache_key] = entry
            assert entry is not None
            return entry.keys

    def source(
        self, issuer: str, jwks_uri: str, fetch: Callable[[str], Mapping[str, Any]]
    ) -> Callable[[bool], list[dict[str, Any]]]:
        """The ``jwks`` argument of :func:`validate_id_token` for one issuer."""
        return lambda refresh: self.keys(issuer, jwks_uri, fetch, refresh=refresh)


def _usable(jwk: Mapping[str, Any], alg: str) -> bool:
    kty, crv = ASYMMETRIC_ALGS[alg]
    if jwk.get("kty") != kty:
        return False
    if crv is not None and jwk.get("crv") != crv:
        return False
    if jwk.get("use") not in (None, "sig"):
        return False
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (
        not isinstance(key_ops, list) or "verify" not in key_ops
    ):
        return False
    return jwk.get("alg") in (None, alg)


def _candidates(
    keys: list[dict[str, Any]], alg: str, kid: str | None
) -> list[dict[str, Any]]:
    usable = [k for k in keys if _usable(k, alg)]
    if kid is not None:
        return [k for k in usable if k.get("kid") == kid]
    return usable[:MAX_KEYS_WITHOUT_KID]


def _verify_signature(token: str, alg: str, key: Any) -> dict[str, Any] | None:
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except jwt.InvalidSignatureError:
        return None
    except jwt.PyJWTError as exc:
        raise _invalid(f"it cannot be decoded ({type(exc).__name__})") from exc
    return claims


def _jwk_key(jwk: Mapping[str, Any], alg: str) -> Any | None:
    import jwt

    try:
        return jwt.PyJWK(dict(jwk), algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return None  # a key we cannot use is skipped (RFC 7517 section 5)


def _half_hash(alg: str, value: str, crv: str | None = None) -> str:
    """Left half of the hash of ``value`` that ``alg`` uses (Core 3.1.3.6)."""
    # A token response's access token is visible ASCII (tokens.py checks it);
    # surrogatepass keeps any other string from raising UnicodeEncodeError.
    data = value.encode("utf-8", "surrogatepass")
    if alg == "EdDSA" and crv == "Ed448":
        digest = hashlib.shake_256(data).digest(114)
    elif alg == "EdDSA":
        digest = hashlib.sha512(data).digest()
    else:
        digest = _HASHES[alg[-3:]](data).digest()
    return base64url_encode(digest[: len(digest) // 2])


def _number(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise _invalid(f"the {name} claim is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"the {name} claim is not a number")
    if isinstance(value, int):
        value = max(min(value, 2**53), -(2**53))  # no OverflowError on huge ints
    if not math.isfinite(value):
        raise _invalid(f"the {name} claim is not a finite number")
    return float(value)


def validate_id_token(
    id_token: str,
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    jwks: Callable[[bool], list[dict[str, Any]]],
    access_token: str | None = None,
    client_secret: str | None = None,
    allowed_algs: tuple[str, ...] | None = None,
    leeway: float = 60.0,
    max_age: float = DEFAULT_MAX_AGE,
    now: float | None = None,
    auth_max_age: float | None = None,
    acr_values: tuple[str, ...] | None = None,
    extra_issuers: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Check ``id_token`` and return its claims, or raise ValidationError.

    ``jwks(refresh)`` returns the issuer's keys (refetched when ``refresh``).
    HS256/384/512 are accepted only for a confidential client, keyed with its
    secret. ``max_age`` bounds how old ``iat`` may be. ``auth_max_age`` is
    the ``max_age`` sent in the request: ``auth_time`` must then be present
    and recent enough; ``acr_values`` are the values of an essential ``acr``
    claim request, one of which the token must carry (Core 3.1.3.7, 12-13).
    ``extra_issuers`` are further exact ``iss`` values the provider is known
    to use besides ``issuer`` (``OAuth2Constants.id_token_issuers``).
    """
    now = time.time() if now is None else now
    segments = id_token.split(".")
    if len(segments) == 5:
        raise _invalid("it is encrypted (JWE), which oauthcli does not support")
    if len(segments) != 3 or not all(segments[:2]) or not segments[2]:
        raise _invalid("it is not a compact JWS")
    header = _decode_segment(segments[0], "header")
    _decode_segment(segments[1], "payload")
    try:
        base64url_decode(segments[2])
    except ValueError as exc:
        raise _invalid("its signature is not base64url") from exc

    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none":
        raise _invalid("it is unsigned (alg none) or has no alg")
    if allowed_algs is not None and alg not in allowed_algs:
        raise _invalid(f"alg {alg} is not one the provider advertises")
    if "crit" in header:
        raise _invalid("its header has crit parameters oauthcli does not understand")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _invalid("its kid is not a string")

    claims: dict[str, Any] | None = None
    crv: str | None = None
    if alg in SYMMETRIC_ALGS:
        if not client_secret:
            raise _invalid(f"alg {alg} needs a client secret, and this client has none")
        claims = _verify_signature(id_token, alg, client_secret.encode("utf-8"))
    elif alg in ASYMMETRIC_ALGS:
        # A second pass with a refetched JWKS when the provider may have
        # rotated its keys: an unknown kid, or no kid and no key verifies. A
        # known kid that does not verify is a bad signature, not a rotation.
        # The cache refetches at most once a minute per issuer.
        for refresh in (False, True):
            candidates = _candidates(jwks(refresh), alg, kid)
            for jwk in candidates:
                key = _jwk_key(jwk, alg)
                if key is not None:
                    claims = _verify_signature(id_token, alg, key)
                if claims is not None:
                    crv = jwk.get("crv") if isinstance(jwk.get("crv"), str) else None
                    break
            if claims is not None or (kid is not None and candidates):
                break
    else:
        raise _invalid(f"alg {alg} is not supported")
    if claims is None:
        raise _invalid("its signature does not verify with the provider's keys")

    iss = claims.get("iss")
    if not isinstance(iss, str) or (iss != issuer and iss not in extra_issuers):
        raise _invalid("iss is not the provider's issuer")

    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise _invalid("aud does not contain this client_id")
    azp = claims.get("azp")
    if azp is not None and azp != client_id:
        raise _invalid("azp is not this client_id")
    if len(audiences) > 1 and azp is None:
        raise _invalid("aud has several audiences and there is no azp")

    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise _invalid("the sub claim is missing")

    exp = _number(claims, "exp", required=True) or 0.0
    iat = _number(claims, "iat", required=True) or 0.0
    nbf = _number(claims, "nbf", required=False)
    if exp <= now - leeway:
        raise _invalid("it has expired (exp)")
    if iat > now + leeway:
        raise _invalid("it was issued in the future (iat)")
    if iat < now - max_age - leeway:
        raise _invalid("it was issued too long ago (iat)")
    if nbf is not None and nbf > now + leeway:
        raise _invalid("it is not valid yet (nbf)")

    if auth_max_age is not None:
        auth_time = _number(claims, "auth_time", required=True) or 0.0
        if auth_time < now - auth_max_age - leeway:
            raise _invalid("the user authenticated longer ago than max_age (auth_time)")
    if acr_values is not None and claims.get("acr") not in acr_values:
        raise _invalid("acr is not one of the essential values requested")

    if nonce is not None:
        received = claims.get("nonce")
        if not isinstance(received, str) or not equal_in_constant_time(received, nonce):
            raise _invalid("nonce does not match this login")

    at_hash = claims.get("at_hash")
    if (
        at_hash is not None
        and access_token is not None
        and (
            not isinstance(at_hash, str)
            or not equal_in_constant_time(at_hash, _half_hash(alg, access_token, crv))
        )
    ):
        raise _invalid("at_hash does not match the access token")
    return claims
