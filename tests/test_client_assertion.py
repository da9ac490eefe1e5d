"""``private_key_jwt`` client assertions (RFC 7523 section 3), without a network."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from oauthcli.client_assertion import (
    ASSERTION_LIFETIME,
    CLIENT_ASSERTION_TYPE,
    assertion_fields,
    client_assertion,
    load_signing_key,
)
from oauthcli.errors import LocalError

AUDIENCE = "https://login.example.test/oauth/token"


def _write(path: Path, key: Any, password: bytes | None = None) -> Path:
    encryption: Any = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
    )
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ],
)
def test_the_algorithm_follows_from_the_key(tmp_path: Path, key: Any, alg: str) -> None:
    signing_key = load_signing_key(str(_write(tmp_path / "key.pem", key)))

    token = client_assertion("ci-machine", AUDIENCE, signing_key, now=1000.0)

    assert signing_key.alg == alg
    assert jwt.get_unverified_header(token)["alg"] == alg
    claims = jwt.decode(
        token,
        key.public_key(),
        algorithms=[alg],
        audience=AUDIENCE,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == claims["sub"] == "ci-machine"
    assert claims["aud"] == AUDIENCE
    assert claims["iat"] == 1000
    assert claims["exp"] == 1000 + ASSERTION_LIFETIME


def test_each_assertion_has_its_own_jti_and_the_kid_asked_for(tmp_path: Path) -> None:
    key = load_signing_key(
        str(_write(tmp_path / "key.pem", ec.generate_private_key(ec.SECP256R1())))
    )

    first = assertion_fields("ci-machine", AUDIENCE, key, kid="key-1")
    second = assertion_fields("ci-machine", AUDIENCE, key)

    assert first["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert first["client_id"] == "ci-machine"
    assert jwt.get_unverified_header(first["client_assertion"])["kid"] == "key-1"
    assert "kid" not in jwt.get_unverified_header(second["client_assertion"])
    jtis = {
        jwt.decode(fields["client_assertion"], options={"verify_signature": False})[
            "jti"
        ]
        for fields in (first, second)
    }
    assert len(jtis) == 2


def test_the_signing_key_repr_never_shows_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "key.pem", ec.generate_private_key(ec.SECP256R1()))

    assert "PRIVATE" not in repr(load_signing_key(str(path)))
    assert "key=" not in repr(load_signing_key(str(path)))


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="only root can give a file to another user (CI runs as root)",
)
def test_a_key_file_another_user_owns_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "key.pem", ec.generate_private_key(ec.SECP256R1()))
    os.chown(path, 65534, 65534)  # nobody: root could still read it

    with pytest.raises(LocalError, match="belongs to another user"):
        load_signing_key(str(path))


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "key.pem", ec.generate_private_key(ec.SECP256R1()))
    path.chmod(0o640)

    with pytest.raises(LocalError, match=r"mode 0640.*chmod 600"):
        load_signing_key(str(path))


def test_an_encrypted_key_is_refused_with_a_reason(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = _write(tmp_path / "key.pem", key, password=b"not-a-real-password")

    with pytest.raises(LocalError, match="encrypted"):
        load_signing_key(str(path))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a key at all\n", "not a PEM private key"),
        (b"", "not a PEM private key"),
    ],
)
def test_a_file_that_is_no_key_is_refused_without_quoting_it(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(content)
    path.chmod(0o600)

    with pytest.raises(LocalError, match=reason) as caught:
        load_signing_key(str(path))
    assert "not a key at all" not in caught.value.message


def test_a_short_rsa_key_is_refused(tmp_path: Path) -> None:
    weak = 1024  # the key that must be refused
    key = rsa.generate_private_key(public_exponent=65537, key_size=weak)

    with pytest.raises(LocalError, match="2048 bits"):
        load_signing_key(str(_write(tmp_path / "key.pem", key)))


def test_an_unsupported_curve_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256K1())

    with pytest.raises(LocalError, match="secp256k1"):
        load_signing_key(str(_write(tmp_path / "key.pem", key)))


def test_a_missing_key_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(LocalError, match="no such file") as caught:
        load_signing_key(str(tmp_path / "absent.pem"))
    assert caught.value.code == "invalid_argument"
