"""``private_key_jwt``: the client proves who it is with a signed JWT.

RFC 7523 section 2.2 and OpenID Connect Core section 9. Instead of a secret,
the request carries ``client_assertion_type`` (the JWT bearer URN) and
``client_assertion``: a JWT that the client signs with its private key, with
``iss`` and ``sub`` its ``client_id``, ``aud`` the endpoint it is sent to, a
fresh ``jti`` and a short ``exp``. The provider checks it with the public key
registered for the client.

The key is a PEM file (PKCS#8 or the traditional forms), unencrypted, that
only its owner can read; the algorithm follows from the key: RS256 for RSA
(2048 bits or more), ES256/ES384/ES512 for the P-256/P-384/P-521 curves,
EdDSA for Ed25519.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import LocalError
from .utils import random_token

__all__ = [
    "ASSERTION_LIFETIME",
    "CLIENT_ASSERTION_TYPE",
    "SigningKey",
    "assertion_fields",
    "client_assertion",
    "load_signing_key",
]

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 60  # seconds; each assertion is used once
MAX_KEY_BYTES = 64 * 1024
MIN_RSA_BITS = 2048
_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


@dataclass(frozen=True)
class SigningKey:
    """A private key and the JWS algorithm it signs with; ``repr`` hides the key."""

    key: Any = field(repr=False)
    alg: str
    path: str


def _key_error(path: str, problem: str) -> LocalError:
    return LocalError(
        f"client_assertion_key {path}: {problem}", code="invalid_argument"
    )


def _read_private_file(path: str) -> bytes:
    """The key file's bytes; refused when others can read it or it is odd."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise _key_error(path, "no such file") from None
    except OSError as exc:
        raise _key_error(path, f"cannot read it ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _key_error(path, "not a regular file")
        if os.name == "posix" and info.st_uid != os.geteuid():
            # Its owner, not we, decides who else may change it (as for the store).
            raise _key_error(path, "the key file belongs to another user")
        if os.name == "posix" and stat.S_IMODE(info.st_mode) & 0o077:
            raise _key_error(
                path,
                f"other users can read or change this private key (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`",
            )
        data = handle.read(MAX_KEY_BYTES + 1)
    if len(data) > MAX_KEY_BYTES:
        raise _key_error(path, "too large for a PEM private key")
    return data


def _algorithm(key: Any, path: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise _key_error(
                path, f"an RSA key needs {MIN_RSA_BITS} bits or more (RS256)"
            )
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = _CURVES.get(key.curve.name)
        if alg is None:
            raise _key_error(
                path, f"curve {key.curve.name} is not one of P-256, P-384, P-521"
            )
        return alg
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise _key_error(path, "use an RSA, EC (P-256, P-384, P-521) or Ed25519 key")


def load_signing_key(path: str) -> SigningKey:
    """Read the PEM private key at ``path`` and pick its algorithm."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = _read_private_file(path)
    try:
        key = load_pem_private_key(data, password=None)
    except TypeError:
        raise _key_error(
            path, "the key is encrypted; oauthcli needs it unencrypted (mode 0600)"
        ) from None
    except ValueError:
        # The parser's message is not shown: it might quote the file.
        raise _key_error(path, "not a PEM private key") from None
    except Exception:  # cryptography raises its own types for odd keys
        raise _key_error(path, "not a private key oauthcli can use") from None
    return SigningKey(key=key, alg=_algorithm(key, path), path=path)


def client_assertion(
    client_id: str,
    audience: str,
    key: SigningKey,
    *,
    kid: str | None = None,
    now: float | None = None,
) -> str:
    """A signed client assertion for one request to ``audience`` (RFC 7523 3)."""
    import jwt

    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": random_token(),
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
    }
    headers = {"typ": "JWT", **({"kid": kid} if kid else {})}
    return jwt.encode(claims, key.key, algorithm=key.alg, headers=headers)


def assertion_fields(
    client_id: str, audience: str, key: SigningKey, *, kid: str | None = None
) -> dict[str, str]:
    """The body fields that authenticate the client with ``private_key_jwt``."""
    return {
        "client_id": client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(client_id, audience, key, kid=kid),
    }
