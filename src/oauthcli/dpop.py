"""DPoP: tokens bound to a key the client holds (RFC 9449).

A login with DPoP makes one EC P-256 key (``ES256``, section 4.2) and keeps
it with the tokens for as long as the login lasts: the authorization request
names its thumbprint (``dpop_jkt``, section 10, RFC 7638), and every request
to the token endpoint, the PAR endpoint and a resource server carries a
fresh proof signed with it: ``typ`` ``dpop+jwt``, the public ``jwk`` only,
``jti``, ``htm``, ``htu`` without query or fragment, ``iat``, and on
resource requests ``ath``, the hash of the access token (section 4.2). A
refresh uses the same key, because a public client's refresh token is bound
to it (section 5).

Servers may ask for a nonce (section 8 and 9): a ``use_dpop_nonce`` error
with a ``DPoP-Nonce`` header is answered by one more request whose proof
carries that nonce, and the latest nonce of each server (its origin) is
remembered for the next proof, for as long as the process runs.

The key is imported lazily: ``oauthcli token`` never loads ``cryptography``
unless it signs a proof.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ._log import log
from .errors import ValidationError
from .utils import base64url_decode, base64url_encode, random_token

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

    from .discovery import ProviderMetadata
    from .transport import HTTP, Response

__all__ = [
    "ALG",
    "NONCES",
    "NONCE_SYNTAX",
    "DPoPKey",
    "NonceMemory",
    "access_token_hash",
    "asks_for_nonce",
    "authorization_headers",
    "check_support",
    "htu",
    "jwk_thumbprint",
    "nonce_of",
    "post_form",
]

ALG = "ES256"
MAX_NONCE_LENGTH = 1024
# RFC 9449 section 8.1: nonce = 1*NQCHAR (visible ASCII but '"' and '\').
NONCE_SYNTAX = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _coordinate(value: Any, name: str) -> int:
    """One 32-byte base64url member of a P-256 JWK, as an integer."""
    if not isinstance(value, str):
        raise ValueError(f"the key's {name} is not a string")
    try:
        raw = base64url_decode(value)
    except ValueError as exc:
        raise ValueError(f"the key's {name} is not base64url") from exc
    if len(raw) != 32:
        raise ValueError(f"the key's {name} is not 32 bytes")
    return int.from_bytes(raw, "big")


def _encode(number: int) -> str:
    return base64url_encode(number.to_bytes(32, "big"))


class DPoPKey:
    """One login's private key; ``repr`` shows only its thumbprint."""

    def __init__(self, private_key: EllipticCurvePrivateKey) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("a DPoP key must be on P-256 (ES256)")
        self._key = private_key
        numbers = private_key.public_key().public_numbers()
        self.public_jwk: dict[str, str] = {
            "kty": "EC",
            "crv": "P-256",
            "x": _encode(numbers.x),
            "y": _encode(numbers.y),
        }
        self.thumbprint = jwk_thumbprint(self.public_jwk)

    def __repr__(self) -> str:
        return f"DPoPKey(jkt={self.thumbprint!r})"

    @classmethod
    def generate(cls) -> DPoPKey:
        from cryptography.hazmat.primitives.asymmetric import ec

        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> DPoPKey:
        """The key of a stored private JWK; ValueError if it is not one."""
        from cryptography.hazmat.primitives.asymmetric import ec

        if not isinstance(jwk, Mapping):
            raise ValueError("the key is not a JSON object")
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise ValueError("the key is not an EC P-256 key")
        private = _coordinate(jwk.get("d"), "d")
        try:
            key = cls(ec.derive_private_key(private, ec.SECP256R1()))
        except ValueError as exc:
            raise ValueError("the key's d is out of range") from exc
        if (key.public_jwk["x"], key.public_jwk["y"]) != (jwk.get("x"), jwk.get("y")):
            raise ValueError("the key's x and y do not belong to its d")
        return key

    def private_jwk(self) -> dict[str, str]:
        """The key as a private JWK, for the store (a secret: keep it 0600)."""
        private = self._key.private_numbers().private_value
        return {**self.public_jwk, "d": _encode(private)}

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        now: float | None = None,
    ) -> str:
        """A DPoP proof for one request (RFC 9449 section 4.2)."""
        import jwt

        claims: dict[str, Any] = {
            "jti": random_token(),
            "htm": method,
            "htu": htu(url),
            "iat": int(time.time() if now is None else now),
        }
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(
            claims,
            self._key,
            algorithm=ALG,
            headers={"typ": "dpop+jwt", "jwk": self.public_jwk},
        )


def jwk_thumbprint(public_jwk: Mapping[str, str]) -> str:
    """The RFC 7638 thumbprint (SHA-256) of a public EC key: its ``jkt``."""
    members = {name: public_jwk[name] for name in ("crv", "kty", "x", "y")}
    # RFC 7638 section 3.2: the required members, sorted, no whitespace.
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return base64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def htu(url: str) -> str:
    """The ``htu`` of a request: its URI without query and fragment.

    Scheme and host are lower-cased, a default port and credentials dropped,
    and an empty path is ``/`` (RFC 9449 section 4.3, RFC 3986 section 6.2).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the token's ASCII (section 4.2)."""
    return base64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


def check_support(metadata: ProviderMetadata) -> None:
    """Refuse a provider whose metadata does not offer DPoP with ES256.

    RFC 9449 section 5.1: ``dpop_signing_alg_values_supported``. Without it
    the provider would ignore the proofs and issue Bearer tokens.
    """
    if ALG not in (metadata.dpop_signing_alg_values_supported or ()):
        raise ValidationError(
            f"{metadata.issuer} does not advertise DPoP with ES256 "
            "(dpop_signing_alg_values_supported); log in without --dpop",
            code="unsupported",
        )


def nonce_of(headers: Mapping[str, str]) -> str | None:
    """A well-formed ``DPoP-Nonce`` header's value, else None."""
    value = headers.get("dpop-nonce") or headers.get("DPoP-Nonce")
    if value is None:
        return None
    value = value.strip()
    if len(value) > MAX_NONCE_LENGTH or not NONCE_SYNTAX.fullmatch(value):
        log.debug("ignored a malformed DPoP-Nonce header")
        return None
    return value


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or _DEFAULT_PORTS.get(scheme)


class NonceMemory:
    """The latest ``DPoP-Nonce`` of each server (by origin), across threads."""

    MAX_SERVERS = 64

    def __init__(self) -> None:
        self._nonces: dict[tuple[str, str, int | None], str] = {}
        self._lock = threading.Lock()

    def get(self, url: str) -> str | None:
        with self._lock:
            return self._nonces.get(_origin(url))

    def remember(self, url: str, headers: Mapping[str, str]) -> str | None:
        """Keep the answer's nonce, if it sent one; return it."""
        nonce = nonce_of(headers)
        if nonce is not None:
            with self._lock:
                if len(self._nonces) >= self.MAX_SERVERS:
                    self._nonces.pop(next(iter(self._nonces)))
                self._nonces[_origin(url)] = nonce
        return nonce


NONCES = NonceMemory()  # per process


def asks_for_nonce(response: Response) -> bool:
    """An authorization server's ``use_dpop_nonce`` error (section 8)."""
    if response.status_code not in (400, 401):
        return False
    try:
        document = json.loads(response.body.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and document.get("error") == "use_dpop_nonce"


def authorization_headers(
    access_token: str,
    token_type: str,
    key: DPoPKey | None,
    method: str,
    url: str,
    *,
    nonce: str | None = None,
    nonces: NonceMemory = NONCES,
) -> dict[str, str]:
    """The headers of a resource request (RFC 6750 section 2.1, RFC 9449 section 7.1).

    A DPoP-bound token is sent as ``DPoP`` with a fresh proof for ``method``
    and ``url``, never downgraded to ``Bearer``; the proof carries ``nonce``,
    else the server's latest one.
    """
    if token_type != "DPoP":
        return {"Authorization": f"Bearer {access_token}"}
    if key is None:
        raise ValueError("a DPoP-bound token needs its key")
    proof = key.proof(
        method,
        url,
        access_token=access_token,
        nonce=nonce if nonce is not None else nonces.get(url),
    )
    return {"Authorization": f"DPoP {access_token}", "DPoP": proof}


def post_form(
    http: HTTP,
    url: str,
    form: Mapping[str, str],
    *,
    what: str,
    headers: Mapping[str, str],
    key: DPoPKey | None,
    nonces: NonceMemory = NONCES,
) -> Response:
    """POST ``form`` with a DPoP proof when ``key`` is given.

    A ``use_dpop_nonce`` answer that brings a nonce gets exactly one more
    request, with a new proof carrying it; a second such answer is returned
    as it is (and becomes the caller's ``EndpointError``).
    """
    if key is None:
        return http.post_form(url, form, what=what, headers=headers)
    signer = key

    def send() -> Response:
        proof = signer.proof("POST", url, nonce=nonces.get(url))
        response = http.post_form(
            url, form, what=what, headers={**headers, "DPoP": proof}
        )
        nonces.remember(url, response.headers)
        return response

    response = send()
    if asks_for_nonce(response) and nonce_of(response.headers) is not None:
        log.info("the %s asked for a DPoP nonce; sending the request again", what)
        response = send()
    return response
