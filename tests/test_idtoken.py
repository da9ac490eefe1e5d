"""ID token validation (OIDC Core 3.1.3.7) and the per-issuer JWKS cache.

Keys are generated once per test session; tokens are signed with PyJWT and
checked against a fixed clock, so nothing here sleeps or touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from oauthcli.errors import ValidationError
from oauthcli.idtoken import REFETCH_INTERVAL, JWKSCache, validate_id_token

FIXED_NOW = 1_800_000_000.0
ISSUER = "https://op.example.test"
CLIENT_ID = "cli-app"
NONCE = "nonce-4f1c2e9a7b3d5f60-8e2a4c6b"
ACCESS_TOKEN = "access-token-0a1b2c3d4e5f"
CLIENT_SECRET = "confidential-client-secret-of-48-characters-long"
JWKS_URI = "https://op.example.test/jwks"

Keys = list[dict[str, Any]]


@dataclass(frozen=True)
class Signer:
    """A private key, its algorithm, and the public JWK a provider would publish."""

    alg: str
    kid: str
    private_key: Any
    public_jwk: dict[str, Any]

    def jwk(self, *, kid: bool = True, **members: Any) -> dict[str, Any]:
        published = dict(self.public_jwk)
        if kid:
            published["kid"] = self.kid
        published.update(members)
        return published

    def sign(
        self,
        claims: Mapping[str, Any],
        *,
        kid: bool = True,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        sent = {"kid": self.kid} if kid else {}
        sent.update(headers or {})
        return jwt.encode(dict(claims), self.private_key, self.alg, headers=sent)


@dataclass(frozen=True)
class KeyRing:
    rsa: Signer
    ec: Signer
    ed25519: Signer
    attacker: Signer
    rsa_decoys: tuple[Signer, ...]


def _rsa_signer(kid: str) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return Signer("RS256", kid, key, public)


@pytest.fixture(scope="session")
def keys() -> KeyRing:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    return KeyRing(
        rsa=_rsa_signer("rsa-1"),
        ec=Signer(
            "ES256",
            "ec-1",
            ec_key,
            ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True),
        ),
        ed25519=Signer(
            "EdDSA",
            "ed-1",
            ed_key,
            OKPAlgorithm.to_jwk(ed_key.public_key(), as_dict=True),
        ),
        attacker=_rsa_signer("attacker"),
        rsa_decoys=tuple(_rsa_signer(f"decoy-{n}") for n in range(5)),
    )


def claims(*, drop: tuple[str, ...] = (), **changes: Any) -> dict[str, Any]:
    """A valid claim set for FIXED_NOW, with some members changed or dropped."""
    values: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "user-1",
        "iat": FIXED_NOW - 10,
        "exp": FIXED_NOW + 300,
        "nonce": NONCE,
    }
    values.update(changes)
    for name in drop:
        del values[name]
    return values


def fixed_jwks(keys: Keys) -> Callable[[bool], Keys]:
    return lambda refresh: keys


class RecordingJWKS:
    """A ``jwks(refresh)`` callable that serves new keys once asked to refresh."""

    def __init__(self, before: Keys, after: Keys | None = None) -> None:
        self.before = before
        self.after = before if after is None else after
        self.calls: list[bool] = []

    def __call__(self, refresh: bool) -> Keys:
        self.calls.append(refresh)
        return self.after if refresh else self.before


def validate(
    token: str, jwks: Keys | Callable[[bool], Keys], **options: Any
) -> dict[str, Any]:
    source = fixed_jwks(jwks) if isinstance(jwks, list) else jwks
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT_ID,
        "nonce": NONCE,
        "jwks": source,
        "now": FIXED_NOW,
    }
    arguments.update(options)
    return validate_id_token(token, **arguments)


def rejection(
    token: str, jwks: Keys | Callable[[bool], Keys], **options: Any
) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate(token, jwks, **options)
    assert caught.value.code == "invalid_id_token"
    return caught.value


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def flip_signature_byte(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{b64(bytes(raw))}"


def forge(header: Mapping[str, Any], payload: Mapping[str, Any], sig: bytes) -> str:
    def part(value: Mapping[str, Any]) -> str:
        return b64(json.dumps(value).encode())

    return f"{part(header)}.{part(payload)}.{b64(sig)}"


# Accepted signatures


def test_oidf_08_valid_rs256_token_is_accepted(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims())

    accepted = validate(token, [keys.rsa.jwk()])

    assert accepted["sub"] == "user-1"
    assert accepted["nonce"] == NONCE


def test_oidf_26_valid_es256_token_is_accepted(keys: KeyRing) -> None:
    token = keys.ec.sign(claims())

    assert validate(token, [keys.rsa.jwk(), keys.ec.jwk()])["sub"] == "user-1"


def test_valid_eddsa_token_is_accepted(keys: KeyRing) -> None:
    token = keys.ed25519.sign(claims())

    assert validate(token, [keys.ed25519.jwk()])["sub"] == "user-1"


def test_token_with_several_audiences_and_our_azp_is_accepted(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(aud=[CLIENT_ID, "api"], azp=CLIENT_ID))

    assert validate(token, [keys.rsa.jwk()])["azp"] == CLIENT_ID


def test_clock_skew_within_the_leeway_is_tolerated(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(exp=FIXED_NOW - 30, nbf=FIXED_NOW + 30))

    assert validate(token, [keys.rsa.jwk()], leeway=60.0)["sub"] == "user-1"


# OIDF Basic RP rows


def test_oidf_02_issuer_mismatch_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(iss="https://evil.example.test"))

    assert "iss" in str(rejection(token, [keys.rsa.jwk()]))


def test_oidf_02_issuer_differing_only_by_a_trailing_slash_is_rejected(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(iss=ISSUER + "/"))

    rejection(token, [keys.rsa.jwk()])


@pytest.mark.parametrize(
    "changes",
    [{"aud": "another-client"}, {"aud": ["another-client", "api"]}, {"aud": []}],
    ids=["string", "list", "empty-list"],
)
def test_oidf_04_audience_of_another_client_is_rejected(
    keys: KeyRing, changes: dict[str, Any]
) -> None:
    token = keys.rsa.sign(claims(**changes))

    assert "aud" in str(rejection(token, [keys.rsa.jwk()]))


def test_oidf_04_missing_audience_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(drop=("aud",)))

    rejection(token, [keys.rsa.jwk()])


def test_oidf_05_missing_iat_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(drop=("iat",)))

    assert "iat" in str(rejection(token, [keys.rsa.jwk()]))


def test_oidf_07_no_kid_with_several_keys_is_accepted_when_one_verifies(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(), kid=False)
    jwks = [decoy.jwk(kid=False) for decoy in keys.rsa_decoys[:2]]
    jwks.append(keys.rsa.jwk(kid=False))

    assert validate(token, jwks)["sub"] == "user-1"


def test_oidf_07_no_kid_verifies_with_the_fifth_candidate(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(), kid=False)
    jwks = [decoy.jwk(kid=False) for decoy in keys.rsa_decoys[:4]]
    jwks.append(keys.rsa.jwk(kid=False))

    assert validate(token, jwks)["sub"] == "user-1"


def test_oidf_07_no_kid_is_rejected_when_only_the_sixth_candidate_verifies(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(), kid=False)
    jwks = [decoy.jwk(kid=False) for decoy in keys.rsa_decoys]
    jwks.append(keys.rsa.jwk(kid=False))
    assert len(jwks) == 6

    rejection(token, jwks)


def test_oidf_07_keys_of_another_type_do_not_count_as_candidates(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(), kid=False)
    jwks = [keys.ec.jwk(kid=False), keys.ed25519.jwk(kid=False)] * 3
    jwks.append(keys.rsa.jwk(kid=False))

    assert validate(token, jwks)["sub"] == "user-1"


def test_oidf_10_signature_with_one_byte_flipped_is_rejected(keys: KeyRing) -> None:
    token = flip_signature_byte(keys.rsa.sign(claims()))

    assert "signature" in str(rejection(token, [keys.rsa.jwk()]))


def test_oidf_10_bad_signature_with_a_known_kid_does_not_refetch(
    keys: KeyRing,
) -> None:
    jwks = RecordingJWKS([keys.rsa.jwk()])

    rejection(flip_signature_byte(keys.rsa.sign(claims())), jwks)

    assert jwks.calls == [False]


# Key rotation and the JWKS


def test_oidf_19_unknown_kid_refetches_the_jwks_once_then_verifies(
    keys: KeyRing,
) -> None:
    jwks = RecordingJWKS(before=[keys.rsa.jwk()], after=[keys.ec.jwk()])

    accepted = validate(keys.ec.sign(claims()), jwks)

    assert accepted["sub"] == "user-1"
    assert jwks.calls.count(True) == 1
    assert jwks.calls == [False, True]


def test_oidf_19_kid_still_unknown_after_the_refetch_is_rejected(
    keys: KeyRing,
) -> None:
    jwks = RecordingJWKS(before=[keys.rsa.jwk()], after=[keys.rsa.jwk()])

    rejection(keys.ec.sign(claims()), jwks)

    assert jwks.calls == [False, True]


def test_oidf_29_unusable_keys_in_the_jwks_are_skipped(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims())
    jwks: Keys = [
        {"kty": "AKP", "kid": "pq-1", "alg": "ML-DSA-44", "pub": "not*a*key"},
        {"kty": "InventedKeyType", "kid": "odd-1", "x": "AAAA"},
        {"kty": "RSA", "kid": "broken-1", "n": "!!not-base64!!", "e": "AQAB"},
        {"kid": "no-kty"},
        keys.rsa.jwk(),
    ]

    assert validate(token, jwks)["sub"] == "user-1"


def test_oidf_29_unparseable_key_without_kid_is_skipped_for_the_next_one(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(), kid=False)
    jwks: Keys = [
        {"kty": "RSA", "n": "AAAA", "e": "!!"},
        {"kty": "RSA", "alg": "RS256", "n": 12345, "e": "AQAB"},
        keys.rsa.jwk(kid=False),
    ]

    assert validate(token, jwks)["sub"] == "user-1"


@pytest.mark.parametrize(
    "members",
    [
        {"use": "enc"},
        {"key_ops": ["encrypt", "wrapKey"]},
        {"key_ops": "verify"},
        {"alg": "RS512"},
    ],
    ids=["use-enc", "key-ops-without-verify", "key-ops-not-a-list", "other-alg"],
)
def test_idt_09_key_not_meant_for_this_signature_is_not_used(
    keys: KeyRing, members: dict[str, Any]
) -> None:
    token = keys.rsa.sign(claims())

    rejection(token, [keys.rsa.jwk(**members)])


def test_idt_09_key_marked_for_signatures_is_used(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims())
    jwk = keys.rsa.jwk(use="sig", key_ops=["verify"], alg="RS256")

    assert validate(token, [jwk])["sub"] == "user-1"


def test_idt_09_symmetric_key_from_the_jwks_is_not_used(keys: KeyRing) -> None:
    secret = b"shared-secret-published-in-the-jwks-0123456789"
    token = jwt.encode(claims(), secret, "HS256", headers={"kid": "oct-1"})
    oct_key = {"kty": "oct", "kid": "oct-1", "k": b64(secret), "alg": "HS256"}

    rejection(token, [oct_key])


def test_idt_09_oct_key_with_the_same_kid_as_an_rsa_token_is_not_used(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims())
    oct_key = {"kty": "oct", "kid": keys.rsa.kid, "k": b64(b"x" * 32)}

    rejection(token, [oct_key])


# FAPI-style hostile tokens


def test_oidf_38_alg_none_is_rejected(keys: KeyRing) -> None:
    unsigned = jwt.encode(claims(), "", "none")

    rejection(unsigned, [keys.rsa.jwk()])


def test_oidf_38_alg_none_with_a_signature_segment_is_rejected(
    keys: KeyRing,
) -> None:
    token = forge({"alg": "none", "kid": keys.rsa.kid}, claims(), b"anything")

    assert "alg none" in str(rejection(token, [keys.rsa.jwk()]))


@pytest.mark.parametrize("alg", ["None", "NONE", "HS1", "RSA1_5", ""])
def test_unknown_or_odd_alg_values_are_rejected(keys: KeyRing, alg: str) -> None:
    token = forge({"alg": alg, "kid": keys.rsa.kid}, claims(), b"sig")

    rejection(token, [keys.rsa.jwk()], client_secret=CLIENT_SECRET)


@pytest.mark.parametrize("part", ["header", "payload"])
def test_a_header_or_payload_nested_5000_deep_is_rejected_not_a_recursion_error(
    keys: KeyRing, part: str
) -> None:
    # json.loads raised RecursionError, which nothing caught; 10 KB do it.
    deep = b64(b"[" * 5000 + b"]" * 5000)
    header, payload, signature = keys.rsa.sign(claims()).split(".")
    token = (
        f"{deep}.{payload}.{signature}"
        if part == "header"
        else f"{header}.{deep}.{signature}"
    )

    message = rejection(token, [keys.rsa.jwk()]).message
    assert message == f"ID token rejected: its {part} is not base64url JSON"


def test_oidf_40_expired_token_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(iat=FIXED_NOW - 1000, exp=FIXED_NOW - 600))

    assert "exp" in str(rejection(token, [keys.rsa.jwk()]))


def test_oidf_40_token_without_exp_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(drop=("exp",)))

    assert "exp" in str(rejection(token, [keys.rsa.jwk()]))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", float("nan")),
        ("exp", float("inf")),
        ("exp", True),
        ("exp", "1900000000"),
        ("iat", float("nan")),
        ("iat", "1799999990"),
        ("nbf", float("nan")),
        ("nbf", [FIXED_NOW]),
    ],
    ids=repr,
)
def test_oidf_40_time_claim_that_is_not_a_finite_number_is_rejected(
    keys: KeyRing, claim: str, value: Any
) -> None:
    token = keys.rsa.sign(claims(**{claim: value}))

    rejection(token, [keys.rsa.jwk()])


def test_oidf_41_missing_iss_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(drop=("iss",)))

    rejection(token, [keys.rsa.jwk()])


def test_oidf_41_missing_aud_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(drop=("aud",)))

    assert "aud" in str(rejection(token, [keys.rsa.jwk()]))


def test_oidf_43_wrong_nonce_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(nonce="nonce-of-another-login"))

    assert "nonce" in str(rejection(token, [keys.rsa.jwk()]))


def test_oidf_43_missing_nonce_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(drop=("nonce",)))

    rejection(token, [keys.rsa.jwk()])


def test_oidf_43_non_ascii_nonce_is_rejected_without_crashing(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(nonce="n\u00f6nce"))

    rejection(token, [keys.rsa.jwk()])


@pytest.mark.parametrize("nonce", ["\ud800", NONCE + "\udc00"], ids=ascii)
def test_oidf_43_nonce_with_a_lone_surrogate_is_rejected_not_a_unicode_error(
    keys: KeyRing, nonce: str
) -> None:
    token = keys.rsa.sign(claims(nonce=nonce))

    assert "nonce" in str(rejection(token, [keys.rsa.jwk()]))


def test_oidf_44_iat_a_week_old_is_rejected_though_exp_is_ahead(
    keys: KeyRing,
) -> None:
    week = 7 * 24 * 3600
    token = keys.rsa.sign(claims(iat=FIXED_NOW - week, exp=FIXED_NOW + 3600))

    assert "iat" in str(rejection(token, [keys.rsa.jwk()]))


def test_iat_in_the_future_beyond_the_leeway_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(iat=FIXED_NOW + 600, exp=FIXED_NOW + 900))

    rejection(token, [keys.rsa.jwk()])


def test_missing_sub_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(drop=("sub",)))

    assert "sub" in str(rejection(token, [keys.rsa.jwk()]))


# ID token details (IDT rows)


def test_idt_01_exp_equal_to_now_is_rejected_without_leeway(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(exp=FIXED_NOW))

    rejection(token, [keys.rsa.jwk()], leeway=0.0)


def test_idt_01_exp_at_the_edge_of_the_leeway_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(exp=FIXED_NOW - 60))

    rejection(token, [keys.rsa.jwk()], leeway=60.0)


def test_idt_01_nbf_in_the_future_beyond_the_leeway_is_rejected(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(nbf=FIXED_NOW + 120))

    assert "nbf" in str(rejection(token, [keys.rsa.jwk()], leeway=60.0))


@pytest.mark.parametrize("crit", [["exp"], ["urn:example:unknown"], []])
def test_idt_04_crit_header_is_rejected(keys: KeyRing, crit: list[str]) -> None:
    token = keys.rsa.sign(claims(), headers={"crit": crit, "urn:example:unknown": 1})

    assert "crit" in str(rejection(token, [keys.rsa.jwk()]))


@pytest.mark.parametrize(
    "header",
    [
        {"jku": "https://attacker.example.test/jwks.json"},
        {"x5u": "https://attacker.example.test/cert.pem"},
    ],
    ids=["jku", "x5u"],
)
def test_idt_06_key_urls_in_the_header_are_ignored(
    keys: KeyRing, header: dict[str, Any]
) -> None:
    jwks = RecordingJWKS([keys.rsa.jwk()])

    accepted = validate(keys.rsa.sign(claims(), headers=header), jwks)

    assert accepted["sub"] == "user-1"
    assert jwks.calls == [False]


@pytest.mark.parametrize("kid", ["rsa-1", None], ids=["provider-kid", "no-kid"])
def test_idt_06_token_signed_by_a_key_embedded_in_the_jwk_header_is_rejected(
    keys: KeyRing, kid: str | None
) -> None:
    attacker_jwk = keys.attacker.jwk(kid=False)
    header: dict[str, Any] = {"jwk": attacker_jwk}
    if kid is not None:
        header["kid"] = kid
    token = jwt.encode(claims(), keys.attacker.private_key, "RS256", headers=header)

    rejection(token, [keys.rsa.jwk()])


def test_idt_06_token_signed_by_a_key_behind_a_jku_header_is_rejected(
    keys: KeyRing,
) -> None:
    header = {"jku": "https://attacker.example.test/jwks.json"}
    jwks = RecordingJWKS([keys.rsa.jwk()])

    rejection(keys.attacker.sign(claims(), headers=header), jwks)

    assert jwks.calls == [False, True]


def _malformed(token: str) -> dict[str, str]:
    header, payload, signature = token.split(".")
    return {
        "extra-dot-at-end": token + ".",
        "extra-dot-at-start": "." + token,
        "double-dot": f"{header}..{payload}.{signature}",
        "four-segments": f"{header}.{payload}.{signature}.{signature}",
        "padded-signature": f"{header}.{payload}.{signature}==",
        "padded-header": f"{header}=.{payload}.{signature}",
        "leading-space": " " + token,
        "trailing-newline": token + "\n",
        "space-in-payload": f"{header}.{payload[:5]} {payload[5:]}.{signature}",
        "plus-in-signature": f"{header}.{payload}.+{signature[1:]}",
        "slash-in-payload": f"{header}.{payload[:-1]}/.{signature}",
        "star-in-header": f"{header[:-1]}*.{payload}.{signature}",
        "empty-signature": f"{header}.{payload}.",
        "non-ascii": f"{header}.{payload}.{signature[:-1]}\u00e9",
    }


@pytest.mark.parametrize("kind", sorted(_malformed("a.b.c")))
def test_idt_07_malformed_compact_serialisation_is_rejected(
    keys: KeyRing, kind: str
) -> None:
    token = _malformed(keys.rsa.sign(claims()))[kind]

    rejection(token, [keys.rsa.jwk()])


@pytest.mark.parametrize(
    "header", [b"[1, 2]", b'"RS256"', b"{not json", b"\xff\xfe"], ids=repr
)
def test_idt_07_header_that_is_not_a_json_object_is_rejected(
    keys: KeyRing, header: bytes
) -> None:
    _, payload, signature = keys.rsa.sign(claims()).split(".")

    rejection(f"{b64(header)}.{payload}.{signature}", [keys.rsa.jwk()])


def test_azp_of_another_client_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(aud=[CLIENT_ID, "api"], azp="another-client"))

    assert "azp" in str(rejection(token, [keys.rsa.jwk()]))


def test_azp_of_another_client_is_rejected_with_a_single_audience(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(azp="another-client"))

    rejection(token, [keys.rsa.jwk()])


def test_several_audiences_without_azp_are_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(aud=[CLIENT_ID, "api"]))

    rejection(token, [keys.rsa.jwk()])


# at_hash, JWE, DER signatures, HMAC


def _at_hash(access_token: str) -> str:
    return b64(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def test_oidf_28_correct_at_hash_is_accepted(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(at_hash=_at_hash(ACCESS_TOKEN)))

    accepted = validate(token, [keys.rsa.jwk()], access_token=ACCESS_TOKEN)

    assert accepted["at_hash"] == _at_hash(ACCESS_TOKEN)


def test_oidf_28_at_hash_of_another_access_token_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(at_hash=_at_hash("some-other-access-token")))

    error = rejection(token, [keys.rsa.jwk()], access_token=ACCESS_TOKEN)

    assert "at_hash" in str(error)


def test_oidf_28_at_hash_that_is_not_a_string_is_rejected(keys: KeyRing) -> None:
    token = keys.rsa.sign(claims(at_hash=12345))

    rejection(token, [keys.rsa.jwk()], access_token=ACCESS_TOKEN)


def test_oidf_28_non_ascii_at_hash_is_rejected_without_crashing(
    keys: KeyRing,
) -> None:
    token = keys.rsa.sign(claims(at_hash="\u00e9" * 22))

    rejection(token, [keys.rsa.jwk()], access_token=ACCESS_TOKEN)


@pytest.mark.parametrize(
    "at_hash", ["\udc00", _at_hash(ACCESS_TOKEN)[:-1] + "\ud800"], ids=ascii
)
def test_oidf_28_at_hash_with_a_lone_surrogate_is_rejected_not_a_unicode_error(
    keys: KeyRing, at_hash: str
) -> None:
    token = keys.rsa.sign(claims(at_hash=at_hash))

    error = rejection(token, [keys.rsa.jwk()], access_token=ACCESS_TOKEN)

    assert "at_hash" in str(error)


def test_oidf_28_eddsa_at_hash_uses_the_left_half_of_sha512(keys: KeyRing) -> None:
    at_hash = b64(hashlib.sha512(ACCESS_TOKEN.encode()).digest()[:32])
    token = keys.ed25519.sign(claims(at_hash=at_hash))

    accepted = validate(token, [keys.ed25519.jwk()], access_token=ACCESS_TOKEN)

    assert accepted["at_hash"] == at_hash


def test_oidf_32_five_part_jwe_is_rejected_with_a_clear_message(
    keys: KeyRing,
) -> None:
    header = b64(json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM"}).encode())
    jwe = f"{header}.{b64(b'k' * 256)}.{b64(b'iv' * 6)}.{b64(b'ct')}.{b64(b't' * 16)}"

    error = rejection(jwe, [keys.rsa.jwk()])

    assert "encrypted" in str(error)


def test_oidf_26_corrupted_es256_signature_is_rejected(keys: KeyRing) -> None:
    token = flip_signature_byte(keys.ec.sign(claims()))

    rejection(token, [keys.ec.jwk()])


def test_oidf_26_es256_signature_in_der_form_is_rejected(keys: KeyRing) -> None:
    header, payload, signature = keys.ec.sign(claims()).split(".")
    raw = unb64(signature)
    assert len(raw) == 64
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    der = encode_dss_signature(r, s)

    rejection(f"{header}.{payload}.{b64(der)}", [keys.ec.jwk()])


def test_hs256_token_is_accepted_with_the_client_secret(keys: KeyRing) -> None:
    token = jwt.encode(claims(), CLIENT_SECRET.encode(), "HS256")

    accepted = validate(token, [keys.rsa.jwk()], client_secret=CLIENT_SECRET)

    assert accepted["sub"] == "user-1"


def test_hs256_token_is_rejected_without_a_client_secret(keys: KeyRing) -> None:
    token = jwt.encode(claims(), CLIENT_SECRET.encode(), "HS256")

    assert "secret" in str(rejection(token, [keys.rsa.jwk()]))


def test_hs256_token_made_with_another_secret_is_rejected(keys: KeyRing) -> None:
    token = jwt.encode(claims(), b"a-different-secret-of-at-least-32-bytes", "HS256")

    rejection(token, [keys.rsa.jwk()], client_secret=CLIENT_SECRET)


def test_hs256_token_keyed_with_the_rsa_public_key_is_rejected(
    keys: KeyRing,
) -> None:
    public_pem = keys.rsa.private_key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": keys.rsa.kid}
    signing_input = forge(header, claims(), b"").rsplit(".", 1)[0]
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()

    rejection(f"{signing_input}.{b64(mac)}", [keys.rsa.jwk()])


def test_alg_outside_the_advertised_list_is_rejected(keys: KeyRing) -> None:
    token = keys.ec.sign(claims())

    rejection(token, [keys.ec.jwk()], allowed_algs=("RS256",))


# JWKSCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingFetch:
    """Serves a JWKS document per URL and counts the fetches."""

    def __init__(self, documents: Mapping[str, Keys]) -> None:
        self.documents = dict(documents)
        self.fetched: list[str] = []

    def __call__(self, jwks_uri: str) -> Mapping[str, Any]:
        self.fetched.append(jwks_uri)
        return {"keys": self.documents[jwks_uri]}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_jwks_cache_fetches_once_and_then_serves_from_memory(
    keys: KeyRing, clock: FakeClock
) -> None:
    cache = JWKSCache(clock=clock)
    fetch = CountingFetch({JWKS_URI: [keys.rsa.jwk()]})

    first = cache.keys(ISSUER, JWKS_URI, fetch)
    clock.now += 3600
    second = cache.keys(ISSUER, JWKS_URI, fetch)

    assert first == second == [keys.rsa.jwk()]
    assert fetch.fetched == [JWKS_URI]


def test_jwks_cache_refetches_at_most_once_per_minute_per_issuer(
    keys: KeyRing, clock: FakeClock
) -> None:
    cache = JWKSCache(clock=clock)
    fetch = CountingFetch({JWKS_URI: [keys.rsa.jwk()]})
    cache.keys(ISSUER, JWKS_URI, fetch)

    # The first refetch is allowed at once: keys may have rotated right
    # after the first fetch (OIDF-19); later ones wait a minute.
    for _ in range(10):
        clock.now += 5
        cache.keys(ISSUER, JWKS_URI, fetch, refresh=True)
    assert len(fetch.fetched) == 2

    clock.now += REFETCH_INTERVAL - 45  # a minute after the refetch at +5 s
    cache.keys(ISSUER, JWKS_URI, fetch, refresh=True)
    assert len(fetch.fetched) == 3

    clock.now += 59
    cache.keys(ISSUER, JWKS_URI, fetch, refresh=True)
    assert len(fetch.fetched) == 3


def test_refetch_interval_is_one_minute() -> None:
    assert REFETCH_INTERVAL == 60.0


def test_oidf_20_jwks_cache_never_shares_keys_between_issuers(
    keys: KeyRing, clock: FakeClock
) -> None:
    cache = JWKSCache(clock=clock)
    fetch_a = CountingFetch({JWKS_URI: [keys.rsa.jwk()]})
    fetch_b = CountingFetch({JWKS_URI: [keys.attacker.jwk()]})

    keys_a = cache.keys(ISSUER, JWKS_URI, fetch_a)
    keys_b = cache.keys("https://other-op.example.test", JWKS_URI, fetch_b)

    assert keys_a == [keys.rsa.jwk()]
    assert keys_b == [keys.attacker.jwk()]
    assert fetch_b.fetched == [JWKS_URI]
    assert cache.keys(ISSUER, JWKS_URI, fetch_b) == [keys.rsa.jwk()]


def test_oidf_20_refetch_budget_is_counted_per_issuer(
    keys: KeyRing, clock: FakeClock
) -> None:
    cache = JWKSCache(clock=clock)
    fetch = CountingFetch({JWKS_URI: [keys.rsa.jwk()]})
    other = "https://other-op.example.test"
    cache.keys(ISSUER, JWKS_URI, fetch)
    cache.keys(other, JWKS_URI, fetch)

    clock.now += REFETCH_INTERVAL
    cache.keys(ISSUER, JWKS_URI, fetch, refresh=True)
    cache.keys(other, JWKS_URI, fetch, refresh=True)

    assert len(fetch.fetched) == 4


def test_oidf_20_rotation_between_two_logins_is_picked_up_by_one_refetch(
    keys: KeyRing, clock: FakeClock
) -> None:
    cache = JWKSCache(clock=clock)
    fetch = CountingFetch({JWKS_URI: [keys.rsa.jwk()]})

    def jwks(refresh: bool) -> Keys:
        return cache.keys(ISSUER, JWKS_URI, fetch, refresh=refresh)

    assert validate(keys.rsa.sign(claims()), jwks)["sub"] == "user-1"
    assert validate(keys.rsa.sign(claims()), jwks)["sub"] == "user-1"
    assert len(fetch.fetched) == 1

    fetch.documents[JWKS_URI] = [keys.ec.jwk()]
    clock.now += 2 * REFETCH_INTERVAL
    assert validate(keys.ec.sign(claims()), jwks)["sub"] == "user-1"
    assert len(fetch.fetched) == 2


def test_idt_10_unknown_kids_within_a_minute_cause_no_refetch(
    keys: KeyRing, clock: FakeClock
) -> None:
    cache = JWKSCache(clock=clock)
    fetch = CountingFetch({JWKS_URI: [keys.rsa.jwk()]})

    def jwks(refresh: bool) -> Keys:
        return cache.keys(ISSUER, JWKS_URI, fetch, refresh=refresh)

    validate(keys.rsa.sign(claims()), jwks)
    for _ in range(20):
        clock.now += 1
        rejection(keys.attacker.sign(claims()), jwks)

    assert len(fetch.fetched) == 2  # the first fetch and one refetch


def test_mix_09_a_jwks_fetch_in_progress_holds_up_no_other_issuer(
    keys: KeyRing, clock: FakeClock
) -> None:
    cache = JWKSCache(clock=clock)
    started, release = threading.Event(), threading.Event()
    other = CountingFetch({"https://other-op.example.test/jwks": [keys.ec.jwk()]})

    def hanging(jwks_uri: str) -> Mapping[str, Any]:
        started.set()
        release.wait(10)
        return {"keys": [keys.rsa.jwk()]}

    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(cache.keys, ISSUER, JWKS_URI, hanging)
        try:
            assert started.wait(5)
            fast = pool.submit(
                cache.keys,
                "https://other-op.example.test",
                "https://other-op.example.test/jwks",
                other,
            )
            # The old cache held one lock over every fetch: this waited 10 s.
            assert fast.result(timeout=2) == [keys.ec.jwk()]
            assert not slow.done()
        finally:
            release.set()
        assert slow.result(timeout=5) == [keys.rsa.jwk()]


@pytest.mark.parametrize(
    "document", [{}, {"keys": "none"}, {"keys": {"kty": "RSA"}}], ids=repr
)
def test_jwks_without_a_keys_list_is_an_invalid_id_token(
    clock: FakeClock, document: dict[str, Any]
) -> None:
    cache = JWKSCache(clock=clock)

    with pytest.raises(ValidationError) as caught:
        cache.keys(ISSUER, JWKS_URI, lambda uri: document)

    assert caught.value.code == "invalid_id_token"


def test_jwks_entries_that_are_not_objects_are_dropped(
    keys: KeyRing, clock: FakeClock
) -> None:
    cache = JWKSCache(clock=clock)
    document = {"keys": ["junk", 42, None, keys.rsa.jwk()]}

    assert cache.keys(ISSUER, JWKS_URI, lambda uri: document) == [keys.rsa.jwk()]


def test_oidf_28_at_hash_of_an_ed448_token_uses_shake256() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed448

    private = ed448.Ed448PrivateKey.generate()
    jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk["kid"] = "ed448"
    half = hashlib.shake_256(ACCESS_TOKEN.encode()).digest(114)[:57]
    good = b64(half)
    token = jwt.encode(
        claims(at_hash=good), private, algorithm="EdDSA", headers={"kid": "ed448"}
    )
    assert validate(token, [jwk], access_token=ACCESS_TOKEN)["sub"] == "user-1"
    wrong = b64(hashlib.sha512(ACCESS_TOKEN.encode()).digest()[:32])
    token = jwt.encode(
        claims(at_hash=wrong), private, algorithm="EdDSA", headers={"kid": "ed448"}
    )
    rejection(token, [jwk], access_token=ACCESS_TOKEN)


def test_oidf_19_a_kidless_token_after_rotation_refetches_the_jwks(
    keys: KeyRing,
) -> None:
    old, new = keys.rsa_decoys[0], keys.rsa_decoys[1]
    token = jwt.encode(claims(), new.private_key, algorithm="RS256")  # no kid
    jwks = RecordingJWKS(before=[old.jwk(kid=False)], after=[new.jwk(kid=False)])
    assert validate(token, jwks)["sub"] == "user-1"
    assert jwks.calls == [False, True]
