"""Sections 1 and 2 of the security checklist, end to end against a hostile provider.

Each test is named after its row (shared/cases/security-checklist.md). The
provider is tests/evilprovider.py: honest until one misbehaviour is switched
on. Logins go through ``oauthcli.login`` with the scripted user as
``opener=``, or through the real CLI with the user as ``BROWSER``. Nothing of
oauthcli is mocked; the only patched value is the revocation timeout (REV-07),
so that a hanging endpoint costs 0.3 s instead of five.

"Reject" (checklist, "How to read a row") is checked by ``assert_rejected``:
a typed error with the check's code; no request of the flow after the faulty
message in the provider's log; nothing in the store; no code, token or
verifier in the error text (or, for the CLI, in its output).
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import html
import ipaddress
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import requests
import trustme
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import oauthcli.revocation as revocation_module
from clirun import cli_env, oauthcli, stored
from evilprovider import (
    DELETE,
    EMAIL,
    Canned,
    EvilProvider,
    Logged,
    Plan,
    Raw,
    ScriptedUser,
    SigningKey,
    b64url,
    cli_browser,
    half_hash,
    iter_lines,
    new_key,
    s256,
    token_parts,
    unsigned_token,
)
from oauthcli import (
    AuthorizationError,
    BearerAuth,
    EndpointError,
    LocalError,
    LoginRequired,
    OAuth2Constants,
    OAuthCLIError,
    RequestsBearerAuth,
    TokenSet,
    TransportError,
    ValidationError,
    get_token,
    get_token_set,
    logout,
)
from oauthcli.refresh import get_credentials
from oauthcli.session import LoginResult, login
from oauthcli.store import read_entry, write_entry

ELSEWHERE = "http://127.0.0.1:9/other-issuer"
LOGGED: list[str] = []  # what oauthcli logged in this test, at DEBUG
LOGIN_WAIT = 0.5  # a login whose callbacks are all refused ends after this


# Fixtures and helpers.


@pytest.fixture(scope="module")
def small_trust_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    ca_file = tmp_path_factory.mktemp("trust") / "unrelated-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    return str(ca_file)


@pytest.fixture(autouse=True)
def fast_trust_store(small_trust_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-certificate trust store, so that no login loads the system bundle.

    Every login builds a TLS context even for http://127.0.0.1; with the
    system bundle (or REQUESTS_CA_BUNDLE) that is a tenth of a second. The CA
    trusts nothing these tests serve; the TLS rows remove it (``clean_trust``).
    """
    monkeypatch.setenv("SSL_CERT_FILE", small_trust_store)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        LOGGED.append(record.getMessage())


@pytest.fixture(autouse=True)
def debug_log() -> Iterator[None]:
    """oauthcli's log at DEBUG, for the "no secret in logs" part of Reject."""
    logger = logging.getLogger("oauthcli")
    handler = _Collect(logging.DEBUG)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    LOGGED.clear()
    yield
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def op() -> Iterator[EvilProvider]:
    with EvilProvider() as provider:
        yield provider


@pytest.fixture
def other_op() -> Iterator[EvilProvider]:
    """A second provider: the honest one in mix-up rows, or a redirect target."""
    with EvilProvider() as provider:
        yield provider


@pytest.fixture
def clean_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CA bundle from the environment: trust comes only from ca_file."""
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def constants(provider: EvilProvider, **changes: Any) -> OAuth2Constants:
    settings: dict[str, Any] = {
        "client_id": provider.client_id,
        "authz_server_host": provider.issuer,
        "login_timeout": 5.0,
        "http_timeout": 2.0,
        **changes,
    }
    return OAuth2Constants(**settings)


def log_in(
    provider: EvilProvider,
    user: Callable[[str], bool] | None = None,
    *,
    profile: str = "default",
    notes: list[str] | None = None,
    **changes: Any,
) -> LoginResult:
    """``oauthcli.login`` with the scripted user as the browser."""
    return login(
        constants(provider, **changes),
        profile=profile,
        opener=user or ScriptedUser(),
        notify=(notes.append if notes is not None else lambda _: None),
    )


def refused(
    provider: EvilProvider,
    user: ScriptedUser | None = None,
    expected: type[OAuthCLIError] = OAuthCLIError,
    **changes: Any,
) -> OAuthCLIError:
    """The error a login fails with."""
    with pytest.raises(expected) as caught:
        log_in(provider, user, **changes)
    return caught.value


def assert_nothing_stored(home: Path, provider: EvilProvider) -> None:
    assert stored(home) is None
    for path in home.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for secret in provider.secrets():
                assert secret.encode() not in content, path


def assert_rejected(
    error: OAuthCLIError,
    provider: EvilProvider,
    home: Path,
    *,
    code: str,
    after: str,
    allowed: frozenset[str] = frozenset(),
) -> None:
    """Reject, as the checklist defines it (see the module docstring)."""
    assert error.code == code, repr(error)
    later = set(provider.after(after))
    assert later <= allowed, f"requests after {after}: {sorted(later)}"
    assert {"userinfo", "revoke"}.isdisjoint(provider.endpoints())
    assert_nothing_stored(home, provider)
    logged = "\n".join(LOGGED)
    for secret in provider.secrets():
        assert secret not in str(error)
        assert secret not in logged


def reject_id_token(
    provider: EvilProvider, home: Path, **changes: Any
) -> OAuthCLIError:
    """Log in, expect the ID token to be refused, and check the Reject rules."""
    error = refused(provider, expected=ValidationError, **changes)
    assert_rejected(
        error,
        provider,
        home,
        code="invalid_id_token",
        after="token",
        allowed=frozenset({"jwks"}),
    )
    assert len(provider.requests("token")) == 1
    return error


def reject_callback(
    provider: EvilProvider,
    home: Path,
    user: ScriptedUser | None = None,
    *,
    code: str,
    expected: type[OAuthCLIError] = OAuthCLIError,
) -> OAuthCLIError:
    """Log in, expect the redirect back to be refused before any token request."""
    error = refused(provider, user, expected)
    assert_rejected(error, provider, home, code=code, after="authorize")
    assert provider.requests("token") == []
    return error


def flip_signature(token: str) -> str:
    """The same token with one signature byte flipped."""
    head, payload, _ = token.split(".")
    raw = bytearray(token_parts(token)[2])
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{b64url(bytes(raw))}"


def stored_tokens(home: Path, profile: str = "default") -> dict[str, Any]:
    document = stored(home, profile)
    assert document is not None
    tokens: dict[str, Any] = document["tokens"]
    return tokens


def refresh(home: Path, profile: str = "default") -> TokenSet:
    """A refresh now: the stored access token counts as refused (HTTP 401)."""
    rejected = stored_tokens(home, profile)["access_token"]
    return get_token_set(profile, rejected=rejected)


def store_bytes(home: Path, profile: str = "default") -> bytes:
    return (home / "profiles" / f"{profile}.json").read_bytes()


def once(provider: EvilProvider, endpoint: str, answer: Canned) -> None:
    """Answer the next request to ``endpoint`` with ``answer``, later ones honestly."""
    provider.canned[endpoint] = answer
    seen: list[str] = []

    def hook(request: Logged) -> None:
        if request.endpoint == endpoint:
            seen.append(endpoint)
            if len(seen) > 1:
                provider.canned.pop(endpoint, None)

    provider.on_request = hook


def non_loopback_ipv4() -> str | None:
    """An address of this host that is not loopback, if it has one."""
    for probe in ("192.0.2.1", "10.255.255.255", "198.51.100.1"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))
                address = str(udp.getsockname()[0])
        except OSError:
            continue
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return None


@dataclass
class CliRun:
    result: subprocess.CompletedProcess[str]
    users: list[dict[str, Any]]

    @property
    def output(self) -> str:
        return self.result.stdout + self.result.stderr


def cli_login(
    provider: EvilProvider,
    home: Path,
    tmp_path: Path,
    *args: str,
    plan: Plan | None = None,
) -> CliRun:
    """``oauthcli login`` as a user runs it, the scripted user as BROWSER."""
    plan = plan or Plan()
    results = tmp_path / "user.jsonl"
    plan.result_file = str(results)
    plan_file = tmp_path / "plan.json"
    plan.dump(plan_file)
    environment = cli_env(home, cli_browser(plan_file))
    result = oauthcli(
        "login",
        "--issuer",
        provider.issuer,
        "--client-id",
        provider.client_id,
        "--timeout",
        "5",
        *args,
        env=environment,
        timeout=30,
    )
    return CliRun(result, list(iter_lines(results)))


def assert_cli_rejected(run: CliRun, provider: EvilProvider, home: Path) -> str:
    """Non-zero exit, one error line, no secret in the output; returns the line."""
    assert run.result.returncode == 1, run.output
    assert run.result.stdout == ""
    errors = [
        line for line in run.result.stderr.splitlines() if line.startswith("oauthcli:")
    ]
    assert len(errors) == 1, run.result.stderr
    for secret in provider.secrets():
        assert secret not in run.output
    assert_nothing_stored(home, provider)
    return errors[0]


# 1.1 Basic RP


def test_oidf_01_honest_code_flow_sends_exactly_what_the_provider_expects(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    result = log_in(op)

    assert op.endpoints() == ["discovery", "authorize", "token", "jwks"]
    authorize = op.requests("authorize")[0].query
    assert authorize["response_type"] == "code"
    assert "openid" in authorize["scope"].split()
    assert authorize["code_challenge_method"] == "S256"
    assert len(authorize["state"]) >= 22  # 128 bits or more, base64url
    assert len(authorize["nonce"]) >= 22
    assert authorize["redirect_uri"].startswith("http://127.0.0.1:")
    token = op.requests("token")[0]
    assert token.form["grant_type"] == "authorization_code"
    assert token.form["redirect_uri"] == authorize["redirect_uri"]  # verbatim
    assert s256(token.form["code_verifier"]) == authorize["code_challenge"]
    assert token.form["client_id"] == op.client_id
    assert "authorization" not in token.headers
    assert "client_secret" not in token.form
    assert token.form["code"] == op.issued[0]  # the code it was given, once
    assert result.account.sub == "alice"
    assert stored_tokens(oauthcli_home)["access_token"] in op.issued

    log_in(op)
    again = op.requests("authorize")[1].query
    for name in ("state", "nonce", "code_challenge"):
        assert again[name] != authorize[name]


@pytest.mark.parametrize("iss", [ELSEWHERE, "issuer/"], ids=["other", "trailing-slash"])
def test_oidf_02_issuer_mismatch_in_the_id_token_is_rejected(
    op: EvilProvider, oauthcli_home: Path, iss: str
) -> None:
    op.id_token_claims["iss"] = iss.replace("issuer", op.issuer)
    error = reject_id_token(op, oauthcli_home)
    assert "iss" in str(error)


@pytest.mark.parametrize("aud", [["someone-else"], DELETE])
def test_oidf_04_audience_of_another_client_or_none_is_rejected(
    op: EvilProvider, oauthcli_home: Path, aud: Any
) -> None:
    op.id_token_claims["aud"] = aud
    assert "aud" in str(reject_id_token(op, oauthcli_home))


def test_oidf_05_id_token_without_iat_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_claims["iat"] = DELETE
    assert "iat" in str(reject_id_token(op, oauthcli_home))


def test_oidf_07_no_kid_and_several_keys_tries_each_candidate(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    keys = [new_key("RS256", slot, kid=None) for slot in (2, 0, 3)]
    op.keys = keys
    op.signer = keys[1]

    result = log_in(op)

    assert result.account.sub == "alice"
    assert "kid" not in token_parts(stored_tokens(oauthcli_home)["id_token"])[0]


def test_oidf_07_no_kid_is_rejected_when_only_a_sixth_candidate_verifies(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    keys = [new_key("RS256", slot, kid=None) for slot in (2, 3, 4, 5, 6, 0)]
    op.keys = keys
    op.signer = keys[-1]  # policy: at most five candidates are tried
    reject_id_token(op, oauthcli_home)


def test_oidf_08_valid_rs256_id_token_is_accepted(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    result = log_in(op)

    header = token_parts(stored_tokens(oauthcli_home)["id_token"])[0]
    assert header["alg"] == "RS256"
    assert header["kid"] == op.signer.kid
    assert result.issuer == op.issuer
    assert result.account.display_name == EMAIL


def test_oidf_10_id_token_with_a_corrupted_signature_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_mangle = flip_signature
    error = reject_id_token(op, oauthcli_home)
    assert "signature" in str(error)
    assert len(op.requests("jwks")) == 1  # a known kid that fails: no refetch


def test_oidf_10_cli_exits_non_zero_and_prints_no_secret(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    op.id_token_mangle = flip_signature
    run = cli_login(op, oauthcli_home, tmp_path)
    line = assert_cli_rejected(run, op, oauthcli_home)
    assert "ID token rejected" in line
    assert op.after("token") == ["jwks"]


def test_oidf_11_userinfo_naming_another_user_is_never_used(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    """oauthcli takes the account from the verified ID token, never from UserInfo."""
    op.userinfo_overrides = {"sub": "mallory", "email": "mallory@evil.test"}

    result = log_in(op)

    assert op.requests("userinfo") == []
    assert result.account.sub == "alice"
    assert "mallory" not in json.dumps(stored(oauthcli_home))


@pytest.mark.parametrize(
    ("method", "secret"),
    [
        ("client_secret_basic", "s:+%/é x"),
        ("client_secret_post", "s:+%/é x"),
    ],
)
def test_oidf_14_confidential_client_authenticates_as_the_provider_decodes_it(
    oauthcli_home: Path, method: str, secret: str
) -> None:
    with EvilProvider(client_secret=secret, auth_method=method) as provider:
        log_in(provider, client_secret=secret, token_endpoint_auth_method=method)

        token = provider.requests("token")[0]
    if method == "client_secret_basic":
        assert token.headers["authorization"].startswith("Basic ")
        assert "client_secret" not in token.form
    else:
        assert "authorization" not in token.headers
        assert token.form["client_secret"] == secret


# 1.2 Config RP


def test_oidf_16_every_endpoint_comes_from_the_metadata(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    for name in ("authorize", "token", "jwks", "userinfo", "revoke"):
        op.paths[name] = f"/{os.urandom(6).hex()}/{name}"

    log_in(op)

    assert op.endpoints() == ["discovery", "authorize", "token", "jwks"]
    assert "other" not in op.endpoints()


def test_oidf_17_jwks_uri_is_read_from_metadata_and_fetched_after_discovery(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path
) -> None:
    assert op.paths["jwks"] != other_op.paths["jwks"]  # differs per run

    log_in(op)

    assert op.endpoints()[0] == "discovery"
    assert op.endpoints().index("jwks") > op.endpoints().index("token")
    assert op.requests("jwks")[0].path == op.paths["jwks"]


def test_oidf_19_keys_rotated_just_before_signing_are_fetched_and_verify(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    old = op.signer

    def rotate_once() -> None:
        op.before_sign = None
        op.rotate()

    op.before_sign = rotate_once

    log_in(op)

    header = token_parts(stored_tokens(oauthcli_home)["id_token"])[0]
    assert header["kid"] != old.kid
    assert header["kid"] == op.signer.kid


def test_oidf_19_a_jwks_still_without_the_new_kid_is_refetched_once(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    """The first JWKS answer is stale (a cache in front of the provider)."""
    stale = op.jwks()
    op.rotate()
    once(op, "jwks", Canned(body=stale))

    log_in(op)

    assert len(op.requests("jwks")) == 2


def test_oidf_19_kid_still_unknown_after_the_refetch_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_signer = new_key("RS256", 4)  # published nowhere
    reject_id_token(op, oauthcli_home)
    assert 1 <= len(op.requests("jwks")) <= 2


def test_oidf_20_rotation_between_two_logins_is_picked_up_by_one_refetch(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    log_in(op)
    assert len(op.requests("jwks")) == 1  # the cached JWKS serves a known kid

    op.rotate()
    log_in(op)

    assert len(op.requests("jwks")) == 2


def test_oidf_20_jwks_cache_is_never_shared_between_issuers(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    twin = SigningKey("RS256", new_key("RS256", 5).private_key, op.signer.kid)
    other_op.paths["jwks"] = op.paths["jwks"]
    other_op.keys = [twin]
    other_op.signer = twin

    log_in(other_op)

    assert len(other_op.requests("jwks")) == 1


# 1.4 Other OIDF modules


def test_oidf_26_valid_es256_id_token_is_accepted(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.signer = op.keys[1]
    log_in(op)
    assert token_parts(stored_tokens(oauthcli_home)["id_token"])[0]["alg"] == "ES256"


def der_signature(token: str) -> str:
    head, payload, _ = token.split(".")
    raw = token_parts(token)[2]
    r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    return f"{head}.{payload}.{b64url(encode_dss_signature(r, s))}"


@pytest.mark.parametrize("mangle", [flip_signature, der_signature])
def test_oidf_26_corrupted_or_der_encoded_es256_signature_is_rejected(
    op: EvilProvider, oauthcli_home: Path, mangle: Callable[[str], str]
) -> None:
    op.signer = op.keys[1]
    op.id_token_mangle = mangle
    reject_id_token(op, oauthcli_home)


def test_oidf_28_at_hash_of_another_access_token_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_claims["at_hash"] = half_hash("some other access token")
    assert "at_hash" in str(reject_id_token(op, oauthcli_home))


def test_oidf_28_correct_or_absent_at_hash_is_accepted(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    op.id_token_claims["at_hash"] = DELETE
    log_in(op)


def test_oidf_29_unusable_keys_in_the_jwks_are_skipped(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.jwks_override = [
        {"kty": "AKP", "kid": "pq-1", "alg": "ML-DSA-44", "pub": "not*a*key"},
        {"kty": "InventedKeyType", "kid": "odd-1", "x": "AAAA"},
        {"kty": "RSA", "kid": op.signer.kid, "n": "!!", "e": "AQAB"},
        "not an object",
        op.signer.jwk(),
    ]
    assert log_in(op).account.sub == "alice"


def test_oidf_32_encrypted_id_token_is_rejected_with_a_clear_message(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_mangle = lambda token: ".".join(
        [b64url(b'{"alg":"RSA-OAEP","enc":"A256GCM"}'), "a", "b", "c", "d"]
    )
    error = reject_id_token(op, oauthcli_home)
    assert "JWE" in str(error) or "encrypted" in str(error)


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": ELSEWHERE},
        {"sub": "mallory"},
        {"aud": "someone-else"},
        {"aud": ["evil-cli", "someone-else"], "azp": "evil-cli"},
        {"azp": "evil-cli"},
    ],
    ids=["iss", "sub", "aud", "aud-widened", "azp-appears"],
)
def test_oidf_37_refreshed_id_token_for_another_iss_sub_aud_or_azp_is_rejected(
    op: EvilProvider, oauthcli_home: Path, changes: dict[str, Any]
) -> None:
    log_in(op)
    op.refresh_id_token_claims = changes

    with pytest.raises(OAuthCLIError):
        refresh(oauthcli_home)

    assert len(op.requests("token")) == 2
    kept = json.dumps(stored(oauthcli_home))
    assert all(token not in kept for token in op.issued[-3:])  # the refresh's
    with pytest.raises(LoginRequired):
        get_token("default")


def test_oidf_37_a_refreshed_id_token_the_jwks_cannot_check_is_not_used(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    # A new process has no JWKS in memory; the provider's JWKS endpoint fails.
    log_in(op)
    entry = stored(oauthcli_home)
    assert entry is not None
    entry["tokens"]["expires_at"] = time.time() - 10
    write_entry("default", entry)
    op.refresh_id_token_claims = {"sub": "mallory"}
    op.canned["jwks"] = Canned(status=503)

    run = oauthcli("token", env=cli_env(oauthcli_home, None))

    assert run.returncode == 1
    assert run.stdout == ""
    assert "the refreshed ID token could not be checked" in run.stderr
    assert len(op.requests("jwks")) == 2  # the login's and the failed one
    held = stored_tokens(oauthcli_home)
    assert held["access_token"] in op.issued[-3:]  # the refresh's, as expired
    assert held["expires_at"] == 0
    assert held["refresh_token"] in op.issued[-3:]  # rotated, and not lost
    assert held["id_token"] == entry["tokens"]["id_token"]

    del op.canned["jwks"]
    again = oauthcli("token", env=cli_env(oauthcli_home, None))

    assert again.returncode != 0
    assert again.stdout == ""
    kept = json.dumps(stored(oauthcli_home))
    assert all(token not in kept for token in op.issued[-6:])


def test_oidf_37_during_a_jwks_outage_a_still_valid_token_is_kept_in_use(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    entry = stored(oauthcli_home)
    assert entry is not None
    entry["tokens"]["obtained_at"] = time.time() - 3000
    entry["tokens"]["expires_at"] = time.time() + 60
    write_entry("default", entry)
    op.canned["jwks"] = Canned(status=503)

    run = oauthcli("token", "--min-ttl", "120", env=cli_env(oauthcli_home, None))

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == entry["tokens"]["access_token"]
    assert "the refreshed ID token could not be checked" in run.stderr
    assert "using the current access token, valid for" in run.stderr
    assert stored_tokens(oauthcli_home)["refresh_token"] in op.issued[-3:]


# 1.5 FAPI client tests


@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"], ids=["empty", "junk"])
def test_oidf_38_unsigned_id_token_is_rejected(
    op: EvilProvider, oauthcli_home: Path, signature: str
) -> None:
    op.id_token_mangle = lambda token: unsigned_token(token_parts(token)[1], signature)
    reject_id_token(op, oauthcli_home)


@pytest.mark.parametrize("exp", [-3600, DELETE], ids=["past", "absent"])
def test_oidf_40_expired_or_missing_exp_is_rejected(
    op: EvilProvider, oauthcli_home: Path, exp: Any
) -> None:
    op.id_token_claims["exp"] = exp if exp is DELETE else int(time.time()) + exp
    assert "exp" in str(reject_id_token(op, oauthcli_home))


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_oidf_41_missing_iss_or_aud_is_rejected(
    op: EvilProvider, oauthcli_home: Path, claim: str
) -> None:
    op.id_token_claims[claim] = DELETE
    assert claim in str(reject_id_token(op, oauthcli_home))


@pytest.mark.parametrize("nonce", ["not-this-login", DELETE], ids=["wrong", "absent"])
def test_oidf_43_wrong_or_missing_nonce_is_rejected(
    op: EvilProvider, oauthcli_home: Path, nonce: Any
) -> None:
    op.id_token_claims["nonce"] = nonce
    assert "nonce" in str(reject_id_token(op, oauthcli_home))


@pytest.mark.parametrize(
    ("claim", "value"),
    [("nonce", "\ud800"), ("at_hash", "\udc00")],
    ids=ascii,
)
def test_oidf_43_and_28_lone_surrogate_in_nonce_or_at_hash_is_rejected(
    op: EvilProvider, oauthcli_home: Path, claim: str, value: str
) -> None:
    # JSON's "\ud800" escape decodes to a string that strict UTF-8 cannot
    # encode: it was a UnicodeEncodeError before the comparison.
    op.id_token_claims[claim] = value
    assert claim in str(reject_id_token(op, oauthcli_home))


def test_oidf_44_iat_a_week_old_is_rejected_though_exp_is_ahead(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    week_ago = int(time.time()) - 7 * 24 * 3600
    op.id_token_claims.update(iat=week_ago, auth_time=week_ago)
    assert "iat" in str(reject_id_token(op, oauthcli_home))


@pytest.mark.parametrize(
    "ops",
    [[("set", "state", "forged-state")], [("drop", "state")]],
    ids=["wrong", "missing"],
)
def test_oidf_46_wrong_or_missing_state_ends_in_no_token_request(
    op: EvilProvider, oauthcli_home: Path, ops: list[tuple[str, ...]]
) -> None:
    user = ScriptedUser(Plan(callbacks=[ops]))

    error = refused(op, user, LocalError, login_timeout=LOGIN_WAIT)

    user.wait()
    assert [answer.status for answer in user.answers] == [400]
    assert_rejected(error, op, oauthcli_home, code="timeout", after="authorize")


def test_oidf_47_token_response_without_expires_in_is_accepted(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.token_overrides["expires_in"] = DELETE

    result = log_in(op)

    assert result.tokens.expires_at is None
    assert stored_tokens(oauthcli_home)["expires_at"] is None
    assert get_token("default") == result.tokens.access_token


@pytest.mark.parametrize("scheme", ["dpop", "DPOP", "dPoP"])
def test_oidf_49_a_dpop_challenge_in_another_case_is_understood(
    op: EvilProvider, oauthcli_home: Path, scheme: str
) -> None:
    log_in(op, dpop=True)
    op.resource_scheme = scheme
    op.resource_nonce = "once"

    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        asked = client.get(op.url("resource"))  # use_dpop_nonce: one retry
        op.access_tokens.clear()  # then invalid_token: one refresh
        refused = client.get(op.url("resource"))

    assert asked.status_code == 200
    assert [r.headers["authorization"][:5] for r in op.requests("resource")] == [
        "DPoP "
    ] * 4
    assert refused.status_code == 200
    assert len(op.requests("token")) == 2  # the login, then one refresh


def test_oidf_50_dpop_works_where_no_server_ever_sends_a_nonce(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    result = log_in(op, dpop=True)
    refresh(oauthcli_home)
    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        answer = client.get(op.url("resource"))

    assert result.tokens.token_type == "DPoP"
    assert answer.status_code == 200
    assert [r.endpoint for r in op.requests() if "dpop" in r.headers] == [
        "token",
        "token",
        "resource",
    ]
    assert all(p.error is None and "nonce" not in p.claims for p in op.proofs)


# 2.1 PKCE


def test_pkce_04_provider_offering_only_plain_is_refused_before_the_browser(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.metadata_overrides["code_challenge_methods_supported"] = ["plain"]
    user = ScriptedUser()

    error = refused(op, user, ValidationError)

    assert error.code == "unsupported"
    assert user.urls == []
    assert op.endpoints() == ["discovery"]
    assert_nothing_stored(oauthcli_home, op)


def test_pkce_04_unsupported_method_at_authorize_stops_without_a_plain_retry(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.redirect_overrides = {
        "code": DELETE,
        "error": "invalid_request",
        "error_description": "code_challenge_method not supported",
    }

    error = reject_callback(
        op, oauthcli_home, code="invalid_request", expected=AuthorizationError
    )

    assert isinstance(error, AuthorizationError)
    assert error.error == "invalid_request"
    assert [r.query["code_challenge_method"] for r in op.requests("authorize")] == [
        "S256"
    ]


def test_pkce_05_without_advertised_methods_s256_and_state_are_still_used(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.metadata_overrides["code_challenge_methods_supported"] = DELETE

    log_in(op)

    authorize = op.requests("authorize")[0].query
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["state"]


def test_pkce_05_without_advertised_methods_a_stateless_callback_is_refused(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.metadata_overrides["code_challenge_methods_supported"] = DELETE
    user = ScriptedUser(Plan(callbacks=[[("drop", "state")]]))

    error = refused(op, user, LocalError, login_timeout=LOGIN_WAIT)

    assert_rejected(error, op, oauthcli_home, code="timeout", after="authorize")


def test_pkce_07_verifier_is_only_in_the_token_request_body(
    op: EvilProvider, oauthcli_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    user = ScriptedUser()
    with caplog.at_level(logging.DEBUG, logger="oauthcli"):
        log_in(op, user)
        op.canned["token"] = Canned(400, {"error": "invalid_grant"})
        with pytest.raises(EndpointError) as caught:
            log_in(op, user)

    verifiers = [r.form["code_verifier"] for r in op.requests("token")]
    assert len(verifiers) == 2
    for verifier in verifiers:
        assert all(verifier not in url for url in user.urls)
        assert all(verifier not in r.raw_query for r in op.requests())
        assert verifier not in caplog.text
        assert verifier not in str(caught.value)
    assert caplog.text  # the DEBUG lines were there to look at


def test_pkce_07_verifier_is_not_in_the_launchers_argv_or_debug_output(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    run = cli_login(op, oauthcli_home, tmp_path, "--debug")

    assert run.result.returncode == 0, run.output
    verifier = op.requests("token")[0].form["code_verifier"]
    assert verifier not in run.output
    assert len(run.users) == 1
    assert all(verifier not in argument for argument in run.users[0]["argv"])
    assert "token endpoint" in run.result.stderr  # debug lines were printed


def test_pkce_08_code_from_another_session_fails_and_is_not_retried(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    user = ScriptedUser(Plan(callbacks=[[("swap_code",)]]))

    error = refused(op, user, EndpointError)

    assert isinstance(error, EndpointError)
    assert error.error == "invalid_grant"
    assert error.status_code == 400
    tokens = op.requests("token")
    assert len(tokens) == 1  # no retry, with or without a verifier
    ours, theirs = op.requests("authorize")
    assert s256(tokens[0].form["code_verifier"]) == ours.query["code_challenge"]
    assert tokens[0].form["code"] == op.issued[1]  # the other session's code
    assert theirs.query["code_challenge"] != ours.query["code_challenge"]
    assert_nothing_stored(oauthcli_home, op)


# 2.2 CSRF, state and nonce


def test_csrf_01_forged_callbacks_are_refused_and_the_genuine_one_still_wins(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    plan = Plan(callbacks=[[("drop", "state")], [("set", "state", "guess")], []])
    user = ScriptedUser(plan)

    log_in(op, user)

    user.wait()
    assert [answer.status for answer in user.answers] == [400, 400, 200]
    assert len(op.requests("token")) == 1
    state = op.requests("authorize")[0].query["state"]
    assert len(state) >= 22  # at least 128 bits


def test_csrf_02_replayed_callback_after_success_is_refused(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    user = ScriptedUser(Plan(callbacks=[[], []]))

    log_in(op, user)
    user.wait()

    assert user.answers[0].status == 200
    assert user.answers[1].status in (None, 400)  # closed, or "already finished"
    assert len(op.requests("token")) == 1


def test_csrf_02_listener_is_gone_once_the_login_ends(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    user = ScriptedUser()
    log_in(op, user)
    user.wait()
    redirect_uri = op.requests("authorize")[0].query["redirect_uri"]
    location = f"{redirect_uri}?code={op.issued[0]}&state=x"

    with pytest.raises(httpx.ConnectError):
        httpx.get(location, timeout=1)
    assert len(op.requests("token")) == 1


def test_csrf_04_id_token_with_another_nonce_is_refused_before_anything_is_kept(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_claims["nonce"] = "nonce-of-another-login"
    reject_id_token(op, oauthcli_home)


def test_csrf_05_state_is_fresh_opaque_random_data(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    log_in(op)

    states = [r.query["state"] for r in op.requests("authorize")]
    assert states[0] != states[1]
    for state in states:
        assert len(state) == 43
        assert set(state) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )
        assert op.client_id not in state
        assert "127.0.0.1" not in state


# 2.3 Mix-up and issuer identification


def test_mix_02_missing_iss_when_advertised_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.redirect_overrides["iss"] = DELETE
    error = reject_callback(op, oauthcli_home, code="issuer_mismatch")
    assert "RFC 9207" in str(error)


def test_mix_02_cli_exits_non_zero_without_printing_the_code(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    op.redirect_overrides["iss"] = DELETE
    run = cli_login(op, oauthcli_home, tmp_path)
    assert "iss" in assert_cli_rejected(run, op, oauthcli_home)
    assert op.requests("token") == []


def test_mix_03_equal_iss_that_is_not_advertised_is_accepted(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.metadata_overrides["authorization_response_iss_parameter_supported"] = False
    assert log_in(op).issuer == op.issuer


def test_mix_03_foreign_iss_that_is_not_advertised_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.metadata_overrides["authorization_response_iss_parameter_supported"] = DELETE
    op.redirect_overrides["iss"] = ELSEWHERE
    reject_callback(op, oauthcli_home, code="issuer_mismatch")


@pytest.mark.parametrize("iss", [ELSEWHERE, DELETE], ids=["foreign", "absent"])
def test_mix_05_error_from_an_unverified_issuer_has_no_side_effects(
    op: EvilProvider, oauthcli_home: Path, iss: Any
) -> None:
    log_in(op)
    before = store_bytes(oauthcli_home)
    op.redirect_overrides = {"code": DELETE, "error": "access_denied", "iss": iss}

    error = refused(op, expected=ValidationError)

    assert not isinstance(error, AuthorizationError)
    assert error.code == "issuer_mismatch"
    assert store_bytes(oauthcli_home) == before
    assert op.after("authorize") == []


def test_mix_06_attacker_forwarding_to_the_honest_provider_is_caught_by_iss(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    with EvilProvider(client_id="honest-client") as honest:

        def forward(query: str) -> str:
            params = dict(parse_qsl(query))
            params["client_id"] = honest.client_id
            return honest.url("authorize") + "?" + urlencode(params)

        op.forward_authorize = forward
        error = refused(op, expected=ValidationError)

        assert error.code == "issuer_mismatch"
        assert len(honest.requests("authorize")) == 1  # H approved
        assert honest.requests("token") == []
    assert op.requests("token") == []  # A never sees code and verifier
    assert_nothing_stored(oauthcli_home, op)


def test_mix_08_attacker_metadata_with_the_honest_authorize_endpoint_is_caught(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path
) -> None:
    honest = other_op
    op.metadata_overrides["authorization_endpoint"] = honest.url("authorize")

    error = refused(op, expected=ValidationError)

    assert error.code == "issuer_mismatch"
    assert op.requests("token") == []
    assert honest.requests("token") == []
    assert len(honest.requests("authorize")) == 1
    assert_nothing_stored(oauthcli_home, op)


def test_mix_09_concurrent_logins_each_check_their_own_issuer(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path
) -> None:
    results: dict[str, LoginResult | BaseException] = {}

    def run(provider: EvilProvider, profile: str) -> None:
        try:
            results[profile] = log_in(provider, profile=profile)
        except BaseException as exc:
            results[profile] = exc

    threads = [
        threading.Thread(target=run, args=(op, "first")),
        threading.Thread(target=run, args=(other_op, "second")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)

    for profile, provider in (("first", op), ("second", other_op)):
        result = results[profile]
        assert isinstance(result, LoginResult), result
        assert result.issuer == provider.issuer
        document = stored(oauthcli_home, profile)
        assert document is not None
        assert document["provider"]["issuer"] == provider.issuer
        (token,) = provider.requests("token")
        assert token.form["code"] in provider.issued
        assert (
            token.form["redirect_uri"]
            == (provider.requests("authorize")[0].query["redirect_uri"])
        )


def test_mix_09_a_slow_jwks_at_one_issuer_does_not_hold_up_another(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path
) -> None:
    delay = 2.5
    op.canned["jwks"] = Canned(body=op.jwks(), delay=delay)
    slow_fetch = threading.Event()

    def seen(request: Logged) -> None:
        if request.endpoint == "jwks":
            slow_fetch.set()

    op.on_request = seen
    slow: dict[str, LoginResult | BaseException] = {}

    def run() -> None:
        try:
            slow["first"] = log_in(op, profile="first", http_timeout=delay + 5)
        except BaseException as exc:
            slow["first"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    assert slow_fetch.wait(10)

    # The process-wide JWKS cache held one lock over every fetch: this login
    # waited for the other issuer's JWKS.
    started = time.monotonic()
    result = log_in(other_op, profile="second")
    took = time.monotonic() - started
    still_waiting = thread.is_alive()
    thread.join(delay + 10)

    assert result.issuer == other_op.issuer
    assert took < delay / 2, took
    assert still_waiting
    assert isinstance(slow.get("first"), LoginResult), slow


# 2.4 Open redirection and redirects on the back channel


@pytest.mark.parametrize(
    "error_uri",
    ["javascript:alert(1)", "http://127.0.0.1/help"],
)
def test_redir_02_error_uri_is_kept_but_never_shown_unless_https_nor_opened(
    op: EvilProvider, oauthcli_home: Path, error_uri: str
) -> None:
    op.paths["help"] = "/help"
    error_uri = error_uri.replace("http://127.0.0.1", op.base)
    op.redirect_overrides = {
        "code": DELETE,
        "error": "access_denied",
        "error_uri": error_uri,
    }
    user = ScriptedUser()

    error = reject_callback(
        op, oauthcli_home, user, code="access_denied", expected=AuthorizationError
    )

    assert isinstance(error, AuthorizationError)
    assert error.error_uri == error_uri  # kept for the caller, as sent
    assert error_uri not in str(error)
    user.wait()
    assert len(user.urls) == 1  # only the authorization URL was opened
    assert error_uri not in user.answers[0].body
    assert op.requests("help") == []


def test_redir_02_cli_does_not_print_a_javascript_error_uri(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    op.redirect_overrides = {
        "code": DELETE,
        "error": "access_denied",
        "error_uri": "javascript:alert(document.cookie)",
    }
    run = cli_login(op, oauthcli_home, tmp_path)
    assert "access_denied" in assert_cli_rejected(run, op, oauthcli_home)
    assert "javascript:" not in run.output
    assert len(run.users) == 1


@pytest.mark.parametrize("status", [307, 308])
def test_redir_03_token_endpoint_redirect_is_not_followed(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path, status: int
) -> None:
    op.canned["token"] = Canned.redirect(other_op.url("token"), status)

    error = refused(op, expected=TransportError)

    assert error.code == "unexpected_redirect"
    assert other_op.requests() == []  # no code, verifier or client re-POSTed
    assert_rejected(error, op, oauthcli_home, code="unexpected_redirect", after="token")


def test_redir_05_bearer_token_is_not_forwarded_to_another_origin(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    op.canned["userinfo"] = Canned.redirect(other_op.url("userinfo"))
    other_op.canned["userinfo"] = Canned(200, {"sub": "whoever"})

    with httpx.Client(
        auth=BearerAuth("default"), follow_redirects=True, trust_env=False
    ) as client:
        client.get(op.url("userinfo"))
    with requests.Session() as session:
        session.trust_env = False
        session.get(op.url("userinfo"), auth=RequestsBearerAuth("default"), timeout=5)

    sent = op.requests("userinfo")
    assert len(sent) == 2
    assert all(r.headers["authorization"].startswith("Bearer ") for r in sent)
    followed = other_op.requests("userinfo")
    assert len(followed) == 2
    assert all("authorization" not in r.headers for r in followed)


@pytest.mark.parametrize("endpoint", ["discovery", "jwks"])
def test_redir_06_discovery_or_jwks_redirect_is_refused(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path, endpoint: str
) -> None:
    op.canned[endpoint] = Canned.redirect(other_op.url(endpoint), 301)
    user = ScriptedUser()

    error = refused(op, user, TransportError)

    assert error.code == "unexpected_redirect"
    assert other_op.requests() == []
    assert len(op.requests(endpoint)) == 1
    assert_nothing_stored(oauthcli_home, op)
    if endpoint == "discovery":
        assert user.urls == []


def test_redir_06_a_jwks_redirect_loop_ends_after_one_request(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.canned["jwks"] = Canned.redirect(op.url("jwks"))
    error = refused(op, expected=TransportError)
    assert error.code == "unexpected_redirect"
    assert len(op.requests("jwks")) == 1


# 2.5 TLS and URLs


def test_tls_02_http_provider_on_ipv6_loopback_is_allowed(
    oauthcli_home: Path,
) -> None:
    with EvilProvider(host="::1") as provider:
        assert provider.issuer.startswith("http://[::1]:")
        assert log_in(provider).issuer == provider.issuer


@pytest.mark.parametrize("member", ["token_endpoint", "authorization_endpoint"])
def test_tls_02_metadata_cannot_switch_on_http_for_another_host(
    op: EvilProvider, oauthcli_home: Path, member: str
) -> None:
    address = non_loopback_ipv4() or "192.0.2.10"
    op.metadata_overrides[member] = f"http://{address}:1/{member}"
    user = ScriptedUser()

    error = refused(op, user, ValidationError)

    assert error.code == "insecure_url"
    assert member in str(error)
    assert op.endpoints() == ["discovery"]
    assert user.urls == []


def test_tls_02_http_issuer_on_a_non_loopback_address_is_never_contacted(
    oauthcli_home: Path,
) -> None:
    address = non_loopback_ipv4()
    observer = EvilProvider(host=address) if address else None
    issuer = observer.issuer if observer else "http://192.0.2.10:8080"
    user = ScriptedUser()
    try:
        with pytest.raises(ValidationError) as caught:
            login(
                OAuth2Constants(client_id="x", authz_server_host=issuer),
                opener=user,
                notify=lambda _: None,
            )
        assert caught.value.code == "insecure_url"
        assert observer is None or observer.requests() == []
        assert user.urls == []
    finally:
        if observer is not None:
            observer.stop()


@pytest.fixture(scope="module")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, str]:
    ca = trustme.CA()
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca, str(ca_file)


def server_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    return context


def test_tls_03_https_provider_is_trusted_through_the_ca_option(
    tls_ca: tuple[trustme.CA, str], oauthcli_home: Path, clean_trust: None
) -> None:
    ca, ca_file = tls_ca
    with EvilProvider(tls=server_context(ca.issue_cert("127.0.0.1"))) as provider:
        user = ScriptedUser(Plan(verify=ca_file))
        result = log_in(provider, user, ca_file=ca_file)
        assert result.issuer.startswith("https://127.0.0.1:")


def expired(ca: trustme.CA) -> trustme.LeafCert:
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    return ca.issue_cert(
        "127.0.0.1",
        not_before=long_ago,
        not_after=long_ago + datetime.timedelta(days=30),
    )


@pytest.mark.parametrize(
    ("case", "with_ca"),
    [
        ("trusted-but-not-configured", False),
        ("self-signed", True),
        ("another-name", True),
        ("expired", True),
    ],
)
def test_tls_03_unverifiable_certificates_fail_closed(
    tls_ca: tuple[trustme.CA, str],
    oauthcli_home: Path,
    clean_trust: None,
    case: str,
    with_ca: bool,
) -> None:
    ca, ca_file = tls_ca
    cert = {
        "trusted-but-not-configured": lambda: ca.issue_cert("127.0.0.1"),
        "self-signed": lambda: trustme.CA().issue_cert("127.0.0.1"),
        "another-name": lambda: ca.issue_cert("op.example.test"),
        "expired": lambda: expired(ca),
    }[case]()
    with EvilProvider(tls=server_context(cert)) as provider:
        user = ScriptedUser()
        changes = {"ca_file": ca_file} if with_ca else {}

        error = refused(provider, user, TransportError, **changes)

        assert error.code == "tls_verification_failed"
        assert "certificate verification" in str(error).lower()
        assert provider.requests() == []  # nothing was sent over the bad channel
        assert user.urls == []
    assert_nothing_stored(oauthcli_home, provider)


def test_tls_03_tls_1_0_only_provider_fails_closed(
    tls_ca: tuple[trustme.CA, str], oauthcli_home: Path, clean_trust: None
) -> None:
    ca, ca_file = tls_ca
    context = server_context(ca.issue_cert("127.0.0.1"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1 is, indeed
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1
    with EvilProvider(tls=context) as provider:
        error = refused(provider, expected=TransportError, ca_file=ca_file)
        assert provider.requests() == []
    assert error.code in ("connect_failed", "tls_verification_failed", "http_error")


def test_tls_03_cli_names_certificate_verification_and_accepts_ca_file(
    tls_ca: tuple[trustme.CA, str], oauthcli_home: Path, tmp_path: Path
) -> None:
    ca, ca_file = tls_ca
    with EvilProvider(tls=server_context(ca.issue_cert("127.0.0.1"))) as provider:
        untrusted = cli_login(provider, oauthcli_home, tmp_path)
        line = assert_cli_rejected(untrusted, provider, oauthcli_home)
        assert "certificate verification" in line.lower()
        assert untrusted.users == []

        trusted = cli_login(
            provider,
            oauthcli_home,
            tmp_path,
            "--ca-file",
            ca_file,
            plan=Plan(verify=ca_file),
        )
        assert trusted.result.returncode == 0, trusted.output


@pytest.mark.parametrize(
    ("member", "url"),
    [
        ("authorization_endpoint", "file:///etc/passwd"),
        ("authorization_endpoint", "javascript:alert(1)"),
        ("authorization_endpoint", "data:text/html,<script>alert(1)</script>"),
        ("authorization_endpoint", "search-ms:query=x&crumb=location:\\\\evil\\s"),
        ("authorization_endpoint", "ms-msdt:/id%20PCWDiagnostic"),
        ("authorization_endpoint", "custom-app://op.example.test/authorize"),
        ("authorization_endpoint", "https://user:password@op.example.test/auth"),
        ("token_endpoint", "javascript:fetch('//evil.test')"),
        ("token_endpoint", "file:///etc/passwd"),
        ("jwks_uri", "https://user@op.example.test/jwks"),
    ],
)
def test_url_01_non_web_endpoint_is_refused_before_browser_or_request(
    op: EvilProvider, oauthcli_home: Path, member: str, url: str
) -> None:
    op.metadata_overrides[member] = url
    user = ScriptedUser()

    error = refused(op, user, ValidationError)

    assert error.code == "insecure_url"
    assert member in str(error)
    assert user.urls == []
    assert op.endpoints() == ["discovery"]


def test_url_02_shell_characters_reach_the_launcher_as_one_argument(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    touch = f"touch${{IFS}}{canary}"
    payload = f"$({touch});`{touch}`|{touch}&{touch}'\"x"
    op.paths["authorize"] = f"/authorize/{payload}"

    run = cli_login(op, oauthcli_home, tmp_path)

    assert run.result.returncode == 0, run.output
    assert not canary.exists()
    (user,) = run.users
    url = user["argv"][-1]
    assert len(user["argv"]) == 4  # script, "user", plan, URL
    assert user["argv"][0].endswith("evilprovider.py")
    assert url.startswith(op.base + "/authorize/$(")
    assert payload in url
    assert f"\n    {url}\n" in run.result.stderr  # the same single string


# 2.6 Authorization responses and errors


def test_azr_01_access_denied_aborts_and_keeps_the_stored_login(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    before = store_bytes(oauthcli_home)
    op.redirect_overrides = {"code": DELETE, "error": "access_denied"}

    error = refused(op, expected=AuthorizationError)

    assert isinstance(error, AuthorizationError)
    assert (error.error, error.code) == ("access_denied", "access_denied")
    assert store_bytes(oauthcli_home) == before
    assert len(op.requests("token")) == 1  # the first login's only


def test_azr_01_cli_prints_one_clear_line_and_exits_non_zero(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    op.redirect_overrides = {
        "code": DELETE,
        "error": "access_denied",
        "error_description": "The user said no\x1b[31m",
    }
    run = cli_login(op, oauthcli_home, tmp_path)
    line = assert_cli_rejected(run, op, oauthcli_home)
    assert "access_denied" in line
    assert "The user said no" in line
    assert "\x1b" not in run.output


@pytest.mark.parametrize(
    "error",
    [
        "login_required",
        "consent_required",
        "invalid_scope",
        "temporarily_unavailable",
        "vendor_specific_error",
    ],
)
def test_azr_02_each_error_code_is_surfaced_without_a_retry(
    op: EvilProvider, oauthcli_home: Path, error: str
) -> None:
    op.redirect_overrides = {"code": DELETE, "error": error}

    caught = reject_callback(op, oauthcli_home, code=error, expected=AuthorizationError)

    assert isinstance(caught, AuthorizationError)
    assert caught.error == error
    assert len(op.requests("authorize")) == 1


@pytest.mark.parametrize("member", ["access_token", "token_type", "id_token"])
def test_azr_04_implicit_or_hybrid_members_in_the_callback_are_rejected(
    op: EvilProvider, oauthcli_home: Path, member: str
) -> None:
    op.redirect_overrides[member] = "injected-" + member
    error = reject_callback(op, oauthcli_home, code="invalid_callback")
    assert member in str(error)


def test_azr_05_unrequested_jarm_response_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.redirect_overrides["response"] = op.signer.sign({"code": "x", "state": "y"})
    error = reject_callback(op, oauthcli_home, code="invalid_callback")
    assert "response" in str(error)


def test_azr_07_neither_code_nor_error_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.redirect_overrides["code"] = DELETE
    error = reject_callback(op, oauthcli_home, code="invalid_callback")
    assert "code" in str(error)


# 2.7 Token endpoint responses


def reject_token_response(
    provider: EvilProvider,
    home: Path,
    code: str,
    expected: type[OAuthCLIError] = OAuthCLIError,
) -> OAuthCLIError:
    error = refused(provider, expected=expected)
    assert_rejected(error, provider, home, code=code, after="token")
    return error


@pytest.mark.parametrize("token_type", [DELETE, "", "mac", "N_A"])
def test_tok_01_token_type_missing_empty_or_unknown_is_not_used(
    op: EvilProvider, oauthcli_home: Path, token_type: Any
) -> None:
    op.token_overrides["token_type"] = token_type
    reject_token_response(op, oauthcli_home, "invalid_token_response")
    assert op.requests("jwks") == []


@pytest.mark.parametrize("value", ["-1", "NaN", "Infinity", "true", '"3600s"'])
def test_tok_03_negative_boolean_non_finite_or_junk_expires_in_is_rejected(
    op: EvilProvider, oauthcli_home: Path, value: str
) -> None:
    op.token_overrides["expires_in"] = Raw(value)
    reject_token_response(op, oauthcli_home, "invalid_token_response")


@pytest.mark.parametrize(
    ("value", "low", "high"),
    [
        ('"3600"', 3500, 3700),  # decided: digits in a string are tolerated
        ("1e308", 3600, 10 * 366 * 86400),  # clamped
        ("10" + "0" * 30, 3600, 10 * 366 * 86400),
        ("0", -5, 5),
    ],
)
def test_tok_03_string_huge_or_zero_expires_in_is_handled(
    op: EvilProvider, oauthcli_home: Path, value: str, low: float, high: float
) -> None:
    op.token_overrides["expires_in"] = Raw(value)

    result = log_in(op)

    assert result.tokens.expires_at is not None
    assert low <= result.tokens.expires_at - time.time() <= high


def test_dpop_05_dpop_token_type_without_a_dpop_request_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.token_overrides["token_type"] = "DPoP"
    error = reject_token_response(op, oauthcli_home, "invalid_token_response")
    assert "DPoP" in str(error)


def test_tok_04_unknown_members_are_ignored_and_a_narrower_scope_is_stored(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.token_overrides.update(scope="openid", x_vendor={"nested": [1, 2]}, mac_key=1)

    log_in(op)

    assert stored_tokens(oauthcli_home)["scope"] == "openid"
    assert "x_vendor" not in json.dumps(stored(oauthcli_home))


@pytest.mark.parametrize(
    "scope", ["openid \ud800\x1b[2J\u202eevil", "openid\nprofile"], ids=ascii
)
def test_tok_04_a_scope_outside_the_rfc_6749_grammar_is_not_used(
    op: EvilProvider, oauthcli_home: Path, scope: str
) -> None:
    # It was stored and handed out as TokenSet.scope, escapes and all.
    op.token_overrides["scope"] = scope
    error = reject_token_response(op, oauthcli_home, "invalid_token_response")
    assert "scope" in str(error)


def test_the_account_name_from_the_id_token_is_safe_to_print(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    # README prints result.account.display_name; it was the claim as sent.
    op.id_token_claims.update(
        email=DELETE, preferred_username="\x1b]0;pwned\x07bob\u202e\ud800"
    )

    result = log_in(op)

    assert result.account.display_name == "]0;pwned bob"
    document = stored(oauthcli_home)
    assert document is not None
    assert document["account"]["name"] == "]0;pwned bob"


def test_tok_04_a_required_scope_that_was_not_granted_fails_the_login(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.token_overrides["scope"] = "openid"
    error = refused(op, expected=ValidationError, required_scopes=("email",))
    assert_rejected(error, op, oauthcli_home, code="missing_scope", after="token")
    assert "email" in str(error)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Canned(400, {"error": "invalid_grant"}), "invalid_grant"),
        (Canned(401, {"error": "invalid_client"}), "invalid_client"),
        (Canned(200, {"error": "access_denied"}), "access_denied"),
    ],
    ids=["400", "401", "200-with-error"],
)
def test_tok_06_error_answers_are_surfaced_with_their_codes(
    op: EvilProvider, oauthcli_home: Path, answer: Canned, error: str
) -> None:
    op.canned["token"] = answer

    caught = reject_token_response(op, oauthcli_home, error, EndpointError)

    assert isinstance(caught, EndpointError)
    assert (caught.error, caught.status_code) == (error, answer.status)
    assert op.requests("token")[0].headers["accept"] == "application/json"


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, "<html><body>secret-page-text</body></html>", "text/html"),
        (500, "secret-page-text", "text/plain"),
        (
            200,
            "access_token=secret-page-text&token_type=bearer",
            "application/x-www-form-urlencoded",
        ),
    ],
    ids=["html", "text", "form"],
)
def test_tok_06_non_json_bodies_give_an_error_without_the_body(
    op: EvilProvider,
    oauthcli_home: Path,
    status: int,
    body: str,
    content_type: str,
) -> None:
    op.canned["token"] = Canned(status, body, {"Content-Type": content_type})

    error = refused(op)

    assert error.code in ("invalid_token_response", "http_error")
    assert_rejected(error, op, oauthcli_home, code=error.code, after="token")
    assert "secret-page-text" not in str(error)


@pytest.mark.parametrize(
    "body",
    [
        '["access_token", "x"]',
        '"access_token"',
        '{"access_token": "a-first-token-value-that-is-long", "token_type": '
        '"Bearer", "access_token": "a-second-token-value-that-is-long"}',
        '{"a":' * 50_000 + "1" + "}" * 50_000,
    ],
    ids=["array", "string", "duplicate", "deep"],
)
def test_tok_07_non_objects_duplicates_and_deep_nesting_are_rejected(
    op: EvilProvider, oauthcli_home: Path, body: str
) -> None:
    op.canned["token"] = Canned(200, body, {"Content-Type": "application/json"})
    error = refused(op, expected=ValidationError)
    assert_rejected(error, op, oauthcli_home, code=error.code, after="token")
    assert error.code in ("invalid_response", "invalid_token_response")


def test_tok_07_a_multi_megabyte_token_response_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.canned["token"] = Canned(
        200, b" " * 65536, {"Content-Type": "application/json"}, repeat=48
    )
    reject_token_response(op, oauthcli_home, "response_too_large", TransportError)


def test_tok_09_rotated_refresh_token_replaces_the_old_one_and_none_keeps_it(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    first = stored_tokens(oauthcli_home)["refresh_token"]

    refresh(oauthcli_home)
    second = stored_tokens(oauthcli_home)["refresh_token"]

    assert op.requests("token")[1].form["refresh_token"] == first
    assert second != first
    assert second in op.refresh_tokens

    op.rotate_refresh = False
    op.refresh_overrides["refresh_token"] = DELETE
    refreshed = refresh(oauthcli_home)

    assert op.requests("token")[2].form["refresh_token"] == second
    assert stored_tokens(oauthcli_home)["refresh_token"] == second
    assert stored_tokens(oauthcli_home)["access_token"] == refreshed.access_token


# 2.8 ID token details


def test_idt_01_exp_equal_to_now_is_rejected_without_leeway(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_claims["exp"] = int(time.time())
    reject_id_token(op, oauthcli_home, leeway=0)


def test_idt_01_nbf_in_the_future_beyond_the_leeway_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_claims["nbf"] = int(time.time()) + 120
    assert "nbf" in str(reject_id_token(op, oauthcli_home))


def test_idt_01_a_small_skew_within_the_configured_leeway_is_accepted(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_claims.update(exp=int(time.time()) - 20, nbf=int(time.time()) + 20)
    log_in(op, leeway=60)


@pytest.mark.parametrize(
    "auth_time", [DELETE, -3600], ids=["auth_time-absent", "auth_time-too-old"]
)
def test_idt_03_max_age_sent_but_auth_time_absent_or_too_old_is_rejected(
    op: EvilProvider, oauthcli_home: Path, auth_time: Any
) -> None:
    op.id_token_claims["auth_time"] = (
        auth_time if auth_time is DELETE else int(time.time()) + auth_time
    )
    reject_id_token(op, oauthcli_home, extra_params={"max_age": "60"})


def test_idt_03_essential_acr_that_was_not_met_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    claims = {"id_token": {"acr": {"essential": True, "values": ["urn:mfa"]}}}
    op.id_token_claims["acr"] = "urn:password-only"
    reject_id_token(op, oauthcli_home, extra_params={"claims": json.dumps(claims)})


def test_idt_04_unknown_crit_header_parameter_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.id_token_header = {"crit": ["urn:evil:must-understand"]}
    op.id_token_header["urn:evil:must-understand"] = True
    assert "crit" in str(reject_id_token(op, oauthcli_home))


@pytest.mark.parametrize("member", ["jku", "x5u", "jwk", "x5c"])
def test_idt_06_keys_named_in_the_header_are_never_fetched_or_used(
    op: EvilProvider, oauthcli_home: Path, member: str
) -> None:
    attacker = new_key("RS256", 6, kid="attacker")
    op.paths["attacker"] = "/attacker/keys.json"
    op.canned["attacker"] = Canned(body={"keys": [attacker.jwk()]})
    value: Any = {
        "jku": op.url("attacker"),
        "x5u": op.url("attacker"),
        "jwk": attacker.jwk(),
        "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"],
    }[member]
    op.id_token_header = {member: value}
    op.id_token_signer = attacker

    reject_id_token(op, oauthcli_home)

    assert op.requests("attacker") == []


def test_idt_06_a_jku_header_on_an_honest_token_is_ignored(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.paths["attacker"] = "/attacker/keys.json"
    op.id_token_header = {"jku": op.url("attacker")}

    log_in(op)

    assert op.requests("attacker") == []


@pytest.mark.parametrize(
    "mangle",
    [lambda t: t.replace(".", ". ", 1), lambda t: t + "=="],
    ids=["whitespace", "padding"],
)
def test_idt_07_malformed_compact_serialisation_is_rejected(
    op: EvilProvider, oauthcli_home: Path, mangle: Callable[[str], str]
) -> None:
    op.id_token_mangle = mangle
    reject_id_token(op, oauthcli_home)


@pytest.mark.parametrize(
    "members",
    [
        {"use": "enc"},
        {"key_ops": ["encrypt", "wrapKey"]},
        {"alg": "RS512"},
    ],
    ids=["use-enc", "key_ops", "other-alg"],
)
def test_idt_09_key_not_meant_for_this_signature_is_not_used(
    op: EvilProvider, oauthcli_home: Path, members: dict[str, Any]
) -> None:
    op.jwks_override = [op.signer.jwk(**members)]
    reject_id_token(op, oauthcli_home)


def test_idt_09_symmetric_key_with_the_tokens_kid_is_not_used(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.jwks_override = [{"kty": "oct", "kid": op.signer.kid, "k": b64url(b"k" * 32)}]
    reject_id_token(op, oauthcli_home)


def test_idt_10_random_unknown_kids_cause_at_most_one_refetch(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    for slot in (2, 3, 4):
        op.id_token_signer = new_key("RS256", slot)  # a random, unpublished kid
        refused(op, expected=ValidationError)

    assert 1 <= len(op.requests("jwks")) <= 2
    assert_nothing_stored(oauthcli_home, op)


def test_idt_10_an_oversized_jwks_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    padding = [{"kty": "RSA", "kid": f"k{i}", "n": "A" * 4000} for i in range(300)]
    op.jwks_override = [*padding, op.signer.jwk()]
    error = refused(op, expected=TransportError)
    assert_rejected(
        error,
        op,
        oauthcli_home,
        code="response_too_large",
        after="token",
        allowed=frozenset({"jwks"}),
    )


# 2.9 Discovery


@pytest.mark.parametrize("oidc_form", [True, False], ids=["oidc", "rfc8414"])
def test_disc_01_issuer_with_a_path_uses_the_right_well_known_url(
    oauthcli_home: Path, oidc_form: bool
) -> None:
    with EvilProvider(path_prefix="/tenant/v2.0") as provider:
        if not oidc_form:
            provider.canned["discovery"] = Canned(404, "no such document")

        result = log_in(provider)

        first = provider.requests()[0]
        assert first.path == "/tenant/v2.0/.well-known/openid-configuration"
        if not oidc_form:
            second = provider.requests()[1]
            assert second.path == "/.well-known/oauth-authorization-server/tenant/v2.0"
        assert result.issuer == provider.issuer


def test_disc_01_issuer_with_a_trailing_slash_is_kept_as_configured(
    oauthcli_home: Path,
) -> None:
    with EvilProvider(path_prefix="/tenant", trailing_slash=True) as provider:
        assert provider.issuer.endswith("/tenant/")

        result = log_in(provider)

        assert provider.requests()[0].path == "/tenant/.well-known/openid-configuration"
        assert result.issuer == provider.issuer
        document = stored(oauthcli_home)
        assert document is not None
        assert document["settings"]["issuer"] == provider.issuer


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"issuer": DELETE}, "issuer"),
        ({"issuer": 42}, "issuer"),
        ({"token_endpoint": DELETE}, "token_endpoint"),
        ({"authorization_endpoint": ["https://op.example.test/a"]}, "authoriz"),
        ({"jwks_uri": DELETE}, "jwks_uri"),
        ({"response_types_supported": ["token"]}, "response_types_supported"),
        ({"code_challenge_methods_supported": "S256"}, "code_challenge_methods"),
    ],
)
def test_disc_02_bad_metadata_member_is_named_before_the_browser_opens(
    op: EvilProvider, oauthcli_home: Path, change: dict[str, Any], named: str
) -> None:
    op.metadata_overrides = change
    user = ScriptedUser()

    error = refused(op, user, ValidationError)

    assert error.code == "invalid_metadata"
    assert named in str(error)
    assert user.urls == []
    assert op.endpoints() == ["discovery"]


@pytest.mark.parametrize(
    "answer",
    [
        Canned(200, "issuer: nope", {"Content-Type": "application/json"}),
        Canned(200, ["not", "an", "object"]),
        Canned(200, "<html>login</html>", {"Content-Type": "text/html"}),
    ],
    ids=["not-json", "array", "html"],
)
def test_disc_02_metadata_that_is_not_a_json_object_is_refused(
    op: EvilProvider, oauthcli_home: Path, answer: Canned
) -> None:
    op.canned["discovery"] = answer
    user = ScriptedUser()

    error = refused(op, user, ValidationError)

    assert "metadata" in str(error)
    assert user.urls == []
    assert_nothing_stored(oauthcli_home, op)


def test_disc_04_a_refetched_document_with_another_issuer_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    before = store_bytes(oauthcli_home)
    op.metadata_overrides["issuer"] = op.issuer + "/other"

    error = refused(op, expected=ValidationError)

    assert error.code == "issuer_mismatch"
    assert op.endpoints()[-1] == "discovery"
    assert store_bytes(oauthcli_home) == before


# 2.10 Loopback-specific security


def test_lbk_01_the_listener_is_not_reachable_through_another_interface(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    address = non_loopback_ipv4()
    probes: list[str] = []
    user = ScriptedUser()

    def opener(url: str) -> bool:
        redirect_uri = dict(parse_qsl(urlsplit(url).query))["redirect_uri"]
        port = urlsplit(redirect_uri).port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            probes.append("loopback")
        if address is not None:
            try:
                socket.create_connection((address, port), timeout=1).close()
                probes.append("reached")
            except OSError:
                probes.append("refused")
        return user(url)

    log_in(op, opener)

    assert probes[0] == "loopback"
    assert probes[1:] == ([] if address is None else ["refused"])
    assert (
        op.requests("authorize")[0]
        .query["redirect_uri"]
        .startswith("http://127.0.0.1:")
    )


def test_lbk_03_ipv6_loopback_redirect_uses_and_listens_on_that_family(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    user = ScriptedUser()
    log_in(op, user, redirect_url="http://[::1]/callback")

    redirect_uri = op.requests("authorize")[0].query["redirect_uri"]
    assert redirect_uri.startswith("http://[::1]:")
    user.wait()
    assert user.answers[0].status == 200
    assert op.requests("token")[0].form["redirect_uri"] == redirect_uri


def test_lbk_04_a_fixed_port_in_use_is_a_clear_error_without_fallback(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        user = ScriptedUser()

        error = refused(
            op, user, LocalError, redirect_url=f"http://127.0.0.1:{port}/callback"
        )

    assert error.code == "port_in_use"
    assert str(port) in str(error)
    assert user.urls == []
    assert "authorize" not in op.endpoints()


def test_lbk_06_forged_local_callbacks_are_ignored_and_the_user_told_once(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    plan = Plan(
        callbacks=[
            [("query", "code=forged&state=random-guess")],
            [("query", "code=forged")],
            [("set", "state", "right-path-wrong-state")],
            [("query", "error=access_denied")],
            [],
        ]
    )
    user = ScriptedUser(plan)
    notes: list[str] = []

    log_in(op, user, notes=notes)

    user.wait()
    assert [answer.status for answer in user.answers] == [400, 400, 400, 400, 200]
    assert sum("Ignored a request" in note for note in notes) == 1
    assert op.requests("token")[0].form["code"] == op.issued[0]


def test_lbk_09_callback_with_a_foreign_host_header_is_refused(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    plan = Plan(
        callbacks=[
            [("host", "attacker.example")],
            [("path", "/favicon.ico")],
            [],
        ]
    )
    user = ScriptedUser(plan)

    log_in(op, user)

    user.wait()
    assert [answer.status for answer in user.answers] == [400, 404, 200]
    assert len(op.requests("token")) == 1


def assert_safe_page(headers: dict[str, str], body: str) -> None:
    lowered = {name.lower(): value for name, value in headers.items()}
    assert lowered["referrer-policy"] == "no-referrer"
    assert lowered["cache-control"] == "no-store"
    assert lowered["content-type"].replace(" ", "") == "text/html;charset=utf-8"
    assert lowered["connection"] == "close"
    for external in ("<script", "src=", "http://", "https://", "@import", "url("):
        assert external not in body.lower()


def test_lbk_10_success_and_refusal_pages_are_inert(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    user = ScriptedUser(Plan(callbacks=[[("set", "state", "x")], []]))

    log_in(op, user)

    user.wait()
    for answer in user.answers:
        assert_safe_page(dict(answer.headers), answer.body)


def test_lbk_10_provider_text_on_the_error_page_is_escaped(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.redirect_overrides = {
        "code": DELETE,
        "error": "access_denied",
        "error_description": '<script src="https://evil.test/x.js"></script>',
    }
    user = ScriptedUser()

    refused(op, user, AuthorizationError)

    user.wait()
    page = user.answers[0]
    assert page.status == 400
    shown = html.escape(op.redirect_overrides["error_description"])
    assert shown in page.body
    assert_safe_page(dict(page.headers), page.body.replace(shown, ""))


# 2.13 Pushed authorization requests


def pushed_login(
    provider: EvilProvider, user: ScriptedUser | None = None, **changes: Any
) -> LoginResult:
    return log_in(provider, user, **{"par": True, **changes})


def test_par_03_a_provider_that_requires_par_gets_its_parameters_pushed(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.metadata_overrides["require_pushed_authorization_requests"] = True
    user = ScriptedUser()

    log_in(op, user)

    assert op.endpoints() == ["discovery", "par", "authorize", "token", "jwks"]
    (url,) = user.urls
    shown = dict(parse_qsl(urlsplit(url).query))
    assert set(shown) == {"client_id", "request_uri"}
    pushed = op.requests("par")[0].form
    for name in ("state", "nonce", "code_challenge", "redirect_uri", "scope"):
        assert pushed[name] not in url
    token = op.requests("token")[0].form
    assert s256(token["code_verifier"]) == pushed["code_challenge"]
    assert token["redirect_uri"] == pushed["redirect_uri"]


@pytest.mark.parametrize("required", [True, False], ids=["required", "par-flag"])
def test_par_03_an_error_at_the_par_endpoint_ends_the_login_without_a_fallback(
    op: EvilProvider, oauthcli_home: Path, required: bool
) -> None:
    op.metadata_overrides["require_pushed_authorization_requests"] = required
    op.canned["par"] = Canned(400, {"error": "invalid_request"})
    user = ScriptedUser()

    error = refused(op, user, EndpointError, par=not required)

    assert_rejected(error, op, oauthcli_home, code="invalid_request", after="par")
    assert user.urls == []


@pytest.mark.parametrize("required", [True, False], ids=["required", "par-flag"])
def test_par_03_no_par_endpoint_ends_the_login_before_the_browser(
    op: EvilProvider, oauthcli_home: Path, required: bool
) -> None:
    op.metadata_overrides.update(
        pushed_authorization_request_endpoint=DELETE,
        require_pushed_authorization_requests=required,
    )
    user = ScriptedUser()

    error = refused(op, user, ValidationError, par=not required)

    code = "invalid_metadata" if required else "unsupported"
    assert_rejected(error, op, oauthcli_home, code=code, after="discovery")
    assert "pushed_authorization_request_endpoint" in str(error)
    assert user.urls == []


def test_par_03_the_cli_says_what_the_par_endpoint_answered(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    op.canned["par"] = Canned(
        400, {"error": "invalid_request", "error_description": "bad scope"}
    )
    run = cli_login(op, oauthcli_home, tmp_path, "--par")
    line = assert_cli_rejected(run, op, oauthcli_home)
    assert "pushed authorization request endpoint" in line
    assert "invalid_request" in line
    assert run.users == []


@pytest.mark.parametrize(
    ("status", "members"),
    [
        (200, {}),
        (201, {"request_uri": DELETE}),
        (201, {"request_uri": 12345}),
        (201, {"request_uri": ["urn:a"]}),
        (201, {"expires_in": DELETE}),
        (201, {"expires_in": 0}),
        (201, {"expires_in": -1}),
        (201, {"expires_in": "60"}),
        (201, {"expires_in": True}),
    ],
)
def test_par_02_a_malformed_par_answer_ends_the_login(
    op: EvilProvider, oauthcli_home: Path, status: int, members: dict[str, Any]
) -> None:
    op.par_status = status
    op.par_overrides = members
    user = ScriptedUser()

    error = refused(op, user, ValidationError, par=True)

    assert_rejected(error, op, oauthcli_home, code="invalid_par_response", after="par")
    assert user.urls == []


def test_par_05_a_redirecting_par_endpoint_is_not_followed(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path
) -> None:
    op.canned["par"] = Canned.redirect(other_op.url("par"), 307)
    user = ScriptedUser()

    error = refused(op, user, TransportError, par=True)

    assert_rejected(error, op, oauthcli_home, code="unexpected_redirect", after="par")
    assert other_op.requests() == []  # no state, verifier or challenge re-POSTed
    assert user.urls == []


def test_par_05_a_plain_http_par_endpoint_elsewhere_gets_nothing(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    address = non_loopback_ipv4()
    observer = EvilProvider(host=address) if address else None
    try:
        endpoint = observer.url("par") if observer else "http://192.0.2.10/par"
        op.metadata_overrides["pushed_authorization_request_endpoint"] = endpoint

        error = refused(op, expected=ValidationError, par=True)

        assert error.code == "insecure_url"
        assert observer is None or observer.requests() == []
    finally:
        if observer is not None:
            observer.stop()
    assert op.endpoints() == ["discovery"]
    assert_nothing_stored(oauthcli_home, op)


def test_par_06_a_nonce_asked_for_at_the_par_endpoint_gets_one_retry(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.dpop_nonce = "once"

    result = pushed_login(op, dpop=True)

    first, second = op.requests("par")
    assert "nonce" not in proof_claims(first)
    assert proof_claims(second)["nonce"]
    assert len(op.requests("token")) == 1  # the nonce was remembered
    keys = {proof.jkt for proof in op.proofs}
    assert keys == {second.form["dpop_jkt"], stored_dpop(oauthcli_home)["jkt"]}
    assert op.bound[result.tokens.access_token] == second.form["dpop_jkt"]


def test_par_06_a_par_endpoint_that_wants_a_new_nonce_every_time_gets_one_retry(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.dpop_nonce = "always"
    user = ScriptedUser()

    error = refused(op, user, EndpointError, par=True, dpop=True)

    assert_rejected(error, op, oauthcli_home, code="use_dpop_nonce", after="par")
    assert len(op.requests("par")) == 2
    assert user.urls == []


# 2.14 DPoP


def proof_claims(request: Logged) -> dict[str, Any]:
    """The claims of the DPoP proof a request carried."""
    return token_parts(request.headers["dpop"])[1]


def sha256_b64url(value: str) -> str:
    return b64url(hashlib.sha256(value.encode("ascii")).digest())


def stored_dpop(home: Path) -> dict[str, Any]:
    document = stored(home)
    assert document is not None
    member: dict[str, Any] = document["dpop"]
    return member


def test_dpop_02_resource_requests_carry_a_fresh_proof_bound_to_the_token(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    result = log_in(op, dpop=True)
    url = op.url("resource") + "?page=2#top"

    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        answers = [client.get(url), client.post(url, content=b"x")]
    with requests.Session() as session:
        session.trust_env = False
        last = session.get(url, auth=RequestsBearerAuth(), timeout=5)

    assert [a.status_code for a in answers] == [200, 200]
    assert last.status_code == 200
    token = result.tokens.access_token
    sent = op.requests("resource")
    assert [r.headers["authorization"] for r in sent] == [f"DPoP {token}"] * 3
    claims = [proof_claims(r) for r in sent]
    assert [c["htm"] for c in claims] == ["GET", "POST", "GET"]
    assert {c["htu"] for c in claims} == {op.url("resource")}
    assert {c["ath"] for c in claims} == {sha256_b64url(token)}
    assert len({c["jti"] for c in claims}) == 3
    assert all(proof.error is None for proof in op.proofs)


def test_dpop_02_a_dpop_token_is_never_sent_as_bearer(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op, dpop=True)
    entry = read_entry("default")
    assert entry is not None
    del entry["dpop"]  # the key is gone: no proof can be made
    write_entry("default", entry)

    with (
        httpx.Client(auth=BearerAuth(), trust_env=False) as client,
        pytest.raises(LoginRequired),
    ):
        client.get(op.url("resource"))

    assert op.requests("resource") == []


def test_dpop_03_a_nonce_asked_for_at_the_token_endpoint_gets_one_retry(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.dpop_nonce = "once"

    log_in(op, dpop=True)
    refresh(oauthcli_home)

    grants = [r.form["grant_type"] for r in op.requests("token")]
    assert grants == ["authorization_code", "authorization_code", "refresh_token"]
    nonces = [proof_claims(r).get("nonce") for r in op.requests("token")]
    assert nonces[0] is None
    assert nonces[1] is not None
    assert nonces[2] == nonces[1]  # remembered for the refresh


def test_dpop_03_a_token_endpoint_that_wants_a_new_nonce_every_time_gets_one_retry(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.dpop_nonce = "always"

    error = refused(op, expected=EndpointError, dpop=True)

    assert_rejected(error, op, oauthcli_home, code="use_dpop_nonce", after="token")
    assert len(op.requests("token")) == 2


def test_dpop_03_a_resource_servers_nonce_gets_one_retry_and_is_remembered(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op, dpop=True)
    op.resource_nonce = "once"

    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        first = client.get(op.url("resource"))
    with requests.Session() as session:
        session.trust_env = False
        second = session.get(op.url("resource"), auth=RequestsBearerAuth(), timeout=5)

    assert (first.status_code, second.status_code) == (200, 200)
    sent = op.requests("resource")
    nonces = [proof_claims(r).get("nonce") for r in sent]
    assert nonces[0] is None
    assert nonces[1] == nonces[2] is not None  # the retry, then the next request
    assert len(op.requests("token")) == 1  # a nonce is no reason to refresh


def test_dpop_03_a_resource_server_that_always_wants_a_new_nonce_gets_one_retry(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op, dpop=True)
    op.resource_nonce = "always"

    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        answer = client.get(op.url("resource"))
    with requests.Session() as session:
        session.trust_env = False
        other = session.get(op.url("resource"), auth=RequestsBearerAuth(), timeout=5)

    assert (answer.status_code, other.status_code) == (401, 401)
    assert len(op.requests("resource")) == 4  # two each, no loop
    assert len(op.requests("token")) == 1


def test_dpop_05_a_bearer_token_for_a_dpop_request_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.dpop_token_type = "Bearer"

    error = refused(op, expected=ValidationError, dpop=True)

    assert_rejected(
        error, op, oauthcli_home, code="invalid_token_response", after="token"
    )
    assert "DPoP" in str(error)


def test_dpop_05_a_bearer_token_for_a_dpop_refresh_is_rejected(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op, dpop=True)
    before = store_bytes(oauthcli_home)
    op.dpop_token_type = "Bearer"

    with pytest.raises(ValidationError) as caught:
        refresh(oauthcli_home)

    assert caught.value.code == "invalid_token_response"
    assert store_bytes(oauthcli_home) == before


def test_dpop_05_a_login_without_dpop_stays_bearer_where_dpop_is_offered(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    result = log_in(op)
    assert result.tokens.token_type == "Bearer"
    assert all("dpop" not in r.headers for r in op.requests())
    assert "dpop_jkt" not in op.requests("authorize")[0].query
    assert "dpop" not in (stored(oauthcli_home) or {})


def test_dpop_06_the_key_is_stored_with_the_tokens_and_is_the_one_proved(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    result = log_in(op, dpop=True)

    document = stored(oauthcli_home)
    assert document is not None
    jkt = document["dpop"]["jkt"]
    assert op.requests("authorize")[0].query["dpop_jkt"] == jkt
    assert op.bound[result.tokens.access_token] == jkt
    assert op.bound[result.tokens.refresh_token or ""] == jkt
    path = oauthcli_home / "profiles" / "default.json"
    assert path.stat().st_mode & 0o777 == 0o600
    refresh(oauthcli_home)
    assert {proof.jkt for proof in op.proofs} == {jkt}
    for secret in [document["dpop"]["private_jwk"]["d"], *op.secrets()]:
        assert secret not in "\n".join(LOGGED)


@pytest.mark.parametrize(
    "damage", ["no dpop member", "no private key", "other d", "other key", "junk"]
)
def test_dpop_06_a_missing_or_damaged_key_means_a_new_login(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path, damage: str
) -> None:
    log_in(op, dpop=True)
    entry = read_entry("default")
    assert entry is not None
    other = new_key("ES256", 1).private_key.private_numbers().private_value
    if damage == "no dpop member":
        del entry["dpop"]
    elif damage == "no private key":
        del entry["dpop"]["private_jwk"]
    elif damage == "other d":
        entry["dpop"]["private_jwk"]["d"] = b64url(other.to_bytes(32, "big"))
    elif damage == "other key":
        from oauthcli.dpop import DPoPKey

        entry["dpop"]["private_jwk"] = DPoPKey.generate().private_jwk()
    else:
        entry["dpop"] = "junk"
    write_entry("default", entry)
    grants = len(op.requests("token"))

    with pytest.raises(LoginRequired):
        get_credentials()
    with pytest.raises(LoginRequired):
        refresh(oauthcli_home)
    run = oauthcli(
        "token",
        "--format",
        "header",
        "--url",
        op.url("resource"),
        env=cli_env(oauthcli_home, None),
    )

    assert run.returncode == 3, run.stderr
    assert "log in again" in run.stderr
    assert len(op.requests("token")) == grants  # nothing sent without the key
    assert op.requests("resource") == []


# 2.12 Revocation


def test_rev_01_logout_revokes_the_refresh_token_first_and_ignores_the_body(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    tokens = stored_tokens(oauthcli_home)
    op.canned["revoke"] = Canned(200, "<html>anything</html>", {"X-Junk": "1"})

    result = logout("default")

    assert (result.revoked, result.deleted, result.problems) == (True, True, [])
    first, second = op.requests("revoke")
    assert first.form == {
        "token": tokens["refresh_token"],
        "token_type_hint": "refresh_token",
        "client_id": op.client_id,
    }
    assert second.form["token"] == tokens["access_token"]
    assert second.form["token_type_hint"] == "access_token"
    assert all("authorization" not in r.headers for r in (first, second))
    assert stored(oauthcli_home) is None


def test_rev_03_an_error_answer_is_reported_and_the_entry_still_deleted(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    op.canned["revoke"] = Canned(400, {"error": "unsupported_token_type"})
    env = cli_env(oauthcli_home, None)

    run = oauthcli("logout", env=env)

    assert run.returncode == 1
    assert "unsupported_token_type" in run.stderr
    assert stored(oauthcli_home) is None
    assert len(op.requests("revoke")) == 2
    for secret in op.secrets():
        assert secret not in run.stdout + run.stderr


def test_rev_04_unavailable_endpoint_says_the_tokens_stay_valid(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    op.canned["revoke"] = Canned(503, "busy", {"Retry-After": "30"})

    result = logout("default")

    assert result.deleted
    assert not result.revoked
    assert result.problems
    assert all("valid" in problem for problem in result.problems)
    assert stored(oauthcli_home) is None


def test_rev_06_a_redirecting_revocation_endpoint_is_not_followed(
    op: EvilProvider, other_op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    op.canned["revoke"] = Canned.redirect(other_op.url("revoke"), 307)

    result = logout("default")

    assert other_op.requests() == []
    assert result.deleted
    assert not result.revoked
    assert any("redirect" in problem for problem in result.problems)


def test_rev_06_a_plain_http_revocation_endpoint_on_another_host_gets_nothing(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    log_in(op)
    address = non_loopback_ipv4()
    observer = EvilProvider(host=address) if address else None
    try:
        endpoint = observer.url("revoke") if observer else "http://192.0.2.10/revoke"
        entry = read_entry("default")
        assert entry is not None
        entry["provider"]["revocation_endpoint"] = endpoint
        write_entry("default", entry)

        result = logout("default")

        assert result.deleted
        assert not result.revoked
        assert any("https" in problem for problem in result.problems)
        assert observer is None or observer.requests() == []
    finally:
        if observer is not None:
            observer.stop()
    assert op.requests("revoke") == []


def test_rev_07_a_hanging_revocation_endpoint_cannot_hang_logout(
    op: EvilProvider, oauthcli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(revocation_module, "REVOCATION_TIMEOUT", 0.3)
    log_in(op)
    op.canned["revoke"] = Canned(200, "", delay=30)

    started = time.monotonic()
    result = logout("default")

    assert time.monotonic() - started < 5
    assert result.deleted
    assert not result.revoked
    assert result.problems
    assert stored(oauthcli_home) is None


# 2.15 Secrets hygiene


def test_leak_02_tokens_are_not_in_argv_environment_urls_or_temp_files(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    plan_file = tmp_path / "plan.json"
    Plan().dump(plan_file)
    env = cli_env(oauthcli_home, cli_browser(plan_file), TMPDIR=str(temp))
    seen: dict[str, bytes] = {}
    process: list[subprocess.Popen[str]] = []

    def inspect(request: Logged) -> None:
        if request.endpoint == "jwks" and process:  # the token answer is read
            pid = process[0].pid
            for name in ("cmdline", "environ"):
                seen[name] = Path(f"/proc/{pid}/{name}").read_bytes()

    op.on_request = inspect
    command = [sys.executable, "-m", "oauthcli", "login", "--issuer", op.issuer]
    command += ["--client-id", op.client_id, "--timeout", "5"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        process.append(child)
        out, err = child.communicate(timeout=30)

    assert child.returncode == 0, err
    assert set(seen) == {"cmdline", "environ"}
    tokens = [op.requests("token")[0].form["code_verifier"], *op.issued[1:]]
    assert len(tokens) >= 4  # verifier, access, refresh and ID tokens
    places = [seen["cmdline"], seen["environ"], out.encode(), err.encode()]
    places += [r.raw_query.encode() + r.path.encode() for r in op.requests()]
    places += [p.read_bytes() for p in temp.rglob("*") if p.is_file()]
    for token in tokens:
        assert all(token.encode() not in place for place in places)


def test_leak_03_lbk_07_cli_logs_in_as_a_public_client_and_says_as_whom(
    op: EvilProvider, oauthcli_home: Path, tmp_path: Path
) -> None:
    run = cli_login(op, oauthcli_home, tmp_path)

    assert run.result.returncode == 0, run.output
    # LBK-07: the identity is printed, the verifier is nowhere
    assert f"Logged in to {op.issuer} as {EMAIL}" in run.result.stderr
    verifier = op.requests("token")[0].form["code_verifier"]
    assert verifier not in run.output
    assert verifier not in json.dumps(run.users)
    # LEAK-03: no client secret anywhere
    token = op.requests("token")[0]
    assert token.form["client_id"] == op.client_id
    assert "client_secret" not in token.form
    assert "authorization" not in token.headers
    document = stored(oauthcli_home)
    assert document is not None
    assert document["settings"]["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in document["settings"]


# 2.16 Back-channel HTTP robustness


def test_http_01_a_token_endpoint_that_never_answers_times_out(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.canned["token"] = Canned(delay=30)

    started = time.monotonic()
    error = refused(op, expected=TransportError, http_timeout=0.3)

    assert time.monotonic() - started < 3
    assert error.code in ("timeout", "deadline_exceeded")
    assert_rejected(error, op, oauthcli_home, code=error.code, after="token")


def test_http_01_a_trickling_token_endpoint_hits_the_overall_deadline(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    body = json.dumps({"access_token": "x" * 100, "token_type": "Bearer"})
    op.canned["token"] = Canned(200, body, trickle=0.1)

    started = time.monotonic()
    error = refused(op, expected=TransportError, http_timeout=0.3)

    assert time.monotonic() - started < 3
    assert error.code == "deadline_exceeded"
    assert_nothing_stored(oauthcli_home, op)


def test_http_02_a_hundred_megabyte_body_is_cut_off(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    op.canned["token"] = Canned(200, b"{" * 65536, repeat=1600)  # 100 MiB
    reject_token_response(op, oauthcli_home, "response_too_large", TransportError)


def test_http_02_a_gzip_bomb_is_refused_without_being_inflated(
    op: EvilProvider, oauthcli_home: Path
) -> None:
    bomb = gzip.compress(b"{" + b" " * (20 << 20) + b"}", compresslevel=9)
    op.canned["token"] = Canned(
        200, bomb, {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    reject_token_response(op, oauthcli_home, "invalid_response", TransportError)


class FakeProxy:
    """A TCP listener that records the first line of each connection, then 502."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._closed = threading.Event()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._socket.settimeout(0.05)
        while not self._closed.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    data = connection.recv(4096)
                    self.lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                    connection.sendall(
                        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
                    )
                except OSError:
                    continue

    def close(self) -> None:
        self._closed.set()
        self._thread.join(2)
        self._socket.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProxy]:
    fake = FakeProxy()
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, fake.url)
    yield fake
    fake.close()


def test_http_04_loopback_providers_never_go_through_the_proxy(
    op: EvilProvider, oauthcli_home: Path, proxy: FakeProxy
) -> None:
    assert log_in(op).issuer == op.issuer
    assert proxy.lines == []


def test_http_04_other_providers_go_through_the_proxy(
    oauthcli_home: Path, proxy: FakeProxy
) -> None:
    with pytest.raises(TransportError):
        login(
            OAuth2Constants(
                client_id="x",
                authz_server_host="https://op.example.test",
                http_timeout=2,
            ),
            opener=ScriptedUser(),
            notify=lambda _: None,
        )
    assert proxy.lines
    assert proxy.lines[0].startswith("CONNECT op.example.test:443")
