"""DPoP (RFC 9449): the key and its proofs, then logins at the real provider.

The local oidc-provider supports DPoP: it binds the code to ``dpop_jkt``,
issues ``token_type`` DPoP with ``cnf.jkt`` (seen through introspection),
binds a public client's refresh token to the key, and its UserInfo endpoint
is a resource server that checks proofs. ``nonce_provider`` requires a
server nonce in every proof. The hostile cases (checklist 2.14) are in
test_hostile_provider.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import requests

from clirun import cli_env, login_args, oauthcli, stored
from evilprovider import Canned, EvilProvider, ScriptedUser, token_parts
from localprovider import TESTS_DIR, LocalProvider
from oauthcli import (
    BearerAuth,
    LoginRequired,
    OAuth2Constants,
    RequestsBearerAuth,
    get_token_set,
)
from oauthcli.challenges import asks_for_dpop_nonce, is_invalid_token
from oauthcli.dpop import (
    DPoPKey,
    NonceMemory,
    htu,
    jwk_thumbprint,
    nonce_of,
)
from oauthcli.refresh import Credentials, get_credentials
from oauthcli.session import login
from oauthcli.store import write_entry
from oauthcli.tokens import TokenSet
from oauthcli.utils import base64url_encode

# RFC 9449 section 4.1 and 6.1: the example key and its thumbprint.
RFC_JWK = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def ath(token: str) -> str:
    return base64url_encode(hashlib.sha256(token.encode("ascii")).digest())


def checked_proof(proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a proof whose signature its own jwk verifies."""
    header = jwt.get_unverified_header(proof)
    key = jwt.PyJWK(header["jwk"]).key
    return header, jwt.decode(proof, key, algorithms=["ES256"])


# The key and its proofs.


def test_the_thumbprint_is_rfc_7638s_as_in_rfc_9449s_example() -> None:
    assert jwk_thumbprint(RFC_JWK) == RFC_JKT


def test_a_proof_carries_only_the_public_key_and_describes_the_request() -> None:
    key = DPoPKey.generate()

    header, claims = checked_proof(
        key.proof("POST", "https://AS.example:443/token?x=1#frag")
    )

    assert header == {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}  # no "d"
    assert jwk_thumbprint(header["jwk"]) == key.thumbprint
    assert set(claims) == {"jti", "htm", "htu", "iat"}
    assert claims["htm"] == "POST"
    assert claims["htu"] == "https://as.example/token"
    assert abs(claims["iat"] - time.time()) < 5
    assert len(claims["jti"]) >= 43  # 256 bits


def test_a_resource_proof_carries_the_token_hash_and_the_nonce() -> None:
    key = DPoPKey.generate()

    _, claims = checked_proof(
        key.proof("GET", "https://rs.example/me", access_token="tok", nonce="n-1")
    )

    assert claims["ath"] == ath("tok")
    assert claims["nonce"] == "n-1"


def test_every_proof_has_a_new_jti() -> None:
    key = DPoPKey.generate()
    jtis = {checked_proof(key.proof("GET", "https://rs.example/"))[1]["jti"]}
    jtis |= {checked_proof(key.proof("GET", "https://rs.example/"))[1]["jti"]}
    assert len(jtis) == 2


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://rs.example/a/b?q=1#f", "https://rs.example/a/b"),
        ("HTTPS://RS.Example:443", "https://rs.example/"),
        ("http://127.0.0.1:80/x", "http://127.0.0.1/x"),
        ("http://user:pw@127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
        ("http://[::1]:9000/cb", "http://[::1]:9000/cb"),
    ],
)
def test_htu_is_the_uri_without_query_fragment_or_default_port(
    url: str, expected: str
) -> None:
    assert htu(url) == expected


def test_a_stored_key_comes_back_as_the_same_key() -> None:
    key = DPoPKey.generate()
    again = DPoPKey.from_jwk(key.private_jwk())
    assert again.thumbprint == key.thumbprint
    checked_proof(again.proof("GET", "https://rs.example/"))


def _damaged(change: str) -> Any:
    jwk: dict[str, Any] = DPoPKey.generate().private_jwk()
    other = DPoPKey.generate().private_jwk()
    if change == "not an object":
        return ["a", "list"]
    if change == "other curve":
        jwk["crv"] = "P-384"
    elif change == "no d":
        del jwk["d"]
    elif change == "d of another key":
        jwk["d"] = other["d"]
    elif change == "short d":
        jwk["d"] = jwk["d"][:20]
    elif change == "d not base64url":
        jwk["d"] = "*" * 43
    elif change == "zero d":
        jwk["d"] = base64url_encode(bytes(32))
    return jwk


@pytest.mark.parametrize(
    "change",
    [
        "not an object",
        "other curve",
        "no d",
        "d of another key",
        "short d",
        "d not base64url",
        "zero d",
    ],
)
def test_a_damaged_stored_key_is_refused(change: str) -> None:
    with pytest.raises(ValueError, match="key"):
        DPoPKey.from_jwk(_damaged(change))


def test_reprs_show_the_thumbprint_but_neither_the_key_nor_the_token() -> None:
    key = DPoPKey.generate()
    tokens = TokenSet(access_token="secret-token-value", token_type="DPoP")
    shown = repr(Credentials(tokens, key))
    assert key.thumbprint in shown
    assert key.private_jwk()["d"] not in shown
    assert "secret-token-value" not in shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("eyJ7S_zG.eyJH0-Z.HX4w-7v", "eyJ7S_zG.eyJH0-Z.HX4w-7v"),
        (" padded ", "padded"),
        ('with"quote', None),
        ("with\\backslash", None),
        ("with space", None),
        ("x" * 1025, None),
        ("", None),
    ],
)
def test_only_a_well_formed_dpop_nonce_is_used(
    value: str, expected: str | None
) -> None:
    assert nonce_of({"dpop-nonce": value}) == expected


def test_nonces_are_remembered_per_server() -> None:
    nonces = NonceMemory()
    nonces.remember("https://as.example/token", {"dpop-nonce": "one"})
    nonces.remember("https://rs.example:8443/x", {"dpop-nonce": "two"})
    nonces.remember("https://as.example/token", {})  # no nonce: the old one stays

    assert nonces.get("https://as.example:443/par") == "one"
    assert nonces.get("https://rs.example:8443/y?q") == "two"
    assert nonces.get("https://rs.example/y") is None


@pytest.mark.parametrize(
    ("challenge", "nonce", "invalid"),
    [
        ('DPoP error="use_dpop_nonce"', True, False),
        ('dpop error="use_dpop_nonce", error_description="x"', True, False),
        ('Bearer realm="api", DPOP algs="ES256", error="use_dpop_nonce"', True, False),
        ('Bearer error="use_dpop_nonce"', False, False),
        ('DPoP error="invalid_token"', False, True),
        ('Basic realm="x", dPoP error=invalid_token', False, True),
        ('DPoP algs="ES256"', False, False),
    ],
)
def test_resource_challenges_are_read_case_insensitively(
    challenge: str, nonce: bool, invalid: bool
) -> None:
    headers = {"www-authenticate": challenge}
    assert asks_for_dpop_nonce(401, headers) is nonce
    assert is_invalid_token(401, headers) is invalid
    assert asks_for_dpop_nonce(400, headers) is False


# Logins at the real provider.


@pytest.fixture(scope="module")
def nonce_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProvider]:
    """A provider that wants a nonce of its own in every DPoP proof."""
    workdir = tmp_path_factory.mktemp("nonce-provider")
    with LocalProvider.start(workdir, options={"dpop_nonce": True}) as running:
        yield running


def dpop_login(
    provider: LocalProvider, home: Path, browser: str, *more: str
) -> dict[str, str]:
    env = cli_env(home, browser)
    result = oauthcli(*login_args(provider, "cli-app", "--dpop", *more), env=env)
    assert result.returncode == 0, result.stderr
    return env


def entry(home: Path) -> dict[str, Any]:
    document = stored(home)
    assert document is not None
    return document


def userinfo_url(provider: LocalProvider) -> str:
    return str(provider.metadata()["userinfo_endpoint"])


def test_dpop_06_login_binds_the_token_to_a_key_stored_with_it(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = dpop_login(provider, oauthcli_home, http_browser)

    document = entry(oauthcli_home)
    tokens = document["tokens"]
    assert tokens["token_type"] == "DPoP"
    assert document["settings"]["dpop"] is True
    key = DPoPKey.from_jwk(document["dpop"]["private_jwk"])
    assert key.thumbprint == document["dpop"]["jkt"]
    path = oauthcli_home / "profiles" / "default.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for token in (tokens["access_token"], tokens["refresh_token"]):
        answer = provider.introspect(token)
        assert answer["active"] is True
        assert answer["cnf"] == {"jkt": key.thumbprint}
    assert provider.introspect(tokens["access_token"])["token_type"] == "DPoP"

    shown = oauthcli("token", "--format", "json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["token_type"] == "DPoP"


def test_dpop_06_a_refresh_proves_the_same_key(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    dpop_login(provider, oauthcli_home, http_browser)
    before = entry(oauthcli_home)
    grants = provider.count_grants("refresh_token", client_id="cli-app")

    fresh = get_token_set(rejected=before["tokens"]["access_token"])

    assert provider.count_grants("refresh_token", client_id="cli-app") == grants + 1
    assert fresh.token_type == "DPoP"
    assert fresh.access_token != before["tokens"]["access_token"]
    answer = provider.introspect(fresh.access_token)
    assert answer["cnf"] == {"jkt": before["dpop"]["jkt"]}
    assert entry(oauthcli_home)["dpop"] == before["dpop"]


def test_dpop_06_another_key_cannot_refresh_the_token(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    dpop_login(provider, oauthcli_home, http_browser)
    document = entry(oauthcli_home)
    thief = DPoPKey.generate()
    document["dpop"] = {"jkt": thief.thumbprint, "private_jwk": thief.private_jwk()}
    write_entry("default", document)
    errors = provider.count_grants("refresh_token", error=True)

    with pytest.raises(LoginRequired):
        get_token_set(rejected=document["tokens"]["access_token"])

    assert provider.count_grants("refresh_token", error=True) == errors + 1


def test_dpop_02_the_auth_classes_sign_each_request_to_a_real_resource_server(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    dpop_login(provider, oauthcli_home, http_browser)
    url = userinfo_url(provider)

    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        answers = [client.get(url), client.get(url)]
    with requests.Session() as session:
        session.trust_env = False
        last = session.get(url, auth=RequestsBearerAuth(), timeout=30)

    async def fetch() -> int:
        async with httpx.AsyncClient(auth=BearerAuth(), trust_env=False) as client:
            return (await client.get(url)).status_code

    assert [answer.status_code for answer in answers] == [200, 200]
    assert last.status_code == 200
    assert answers[0].json()["sub"] == "alice"
    assert asyncio.run(fetch()) == 200


# Redirects: each hop to the same origin gets a proof of its own (RFC 9449
# section 4.3); the hops to other origins are in test_auth.py (REDIR-05).


@pytest.fixture
def op(oauthcli_home: Path) -> Iterator[EvilProvider]:
    with EvilProvider() as provider:
        yield provider


def evil_dpop_login(op: EvilProvider) -> None:
    user = ScriptedUser()
    settings = OAuth2Constants(
        client_id=op.client_id,
        authz_server_host=op.issuer,
        login_timeout=5.0,
        http_timeout=2.0,
        dpop=True,
    )
    login(settings, opener=user, notify=lambda _: None)
    user.wait()


def refreshes(op: EvilProvider) -> int:
    grants = [r.form.get("grant_type") for r in op.requests("token")]
    return grants.count("refresh_token")


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("resource_nonce", ["never", "once"])
def test_requests_auth_signs_a_new_proof_for_a_same_origin_redirect(
    op: EvilProvider, status: int, resource_nonce: str
) -> None:
    evil_dpop_login(op)
    op.resource_nonce = resource_nonce
    op.canned["userinfo"] = Canned.redirect(op.url("resource"), status)

    with requests.Session() as session:
        session.trust_env = False
        answer = session.get(op.url("userinfo"), auth=RequestsBearerAuth())

    assert answer.status_code == 200
    first = token_parts(op.requests("userinfo")[0].headers["dpop"])[1]
    proofs = [token_parts(r.headers["dpop"])[1] for r in op.requests("resource")]
    assert len(proofs) == (1 if resource_nonce == "never" else 2)
    assert all(p["htu"] == op.url("resource") and p["htm"] == "GET" for p in proofs)
    assert first["jti"] not in {p["jti"] for p in proofs}
    assert refreshes(op) == 0


def test_httpx_auth_signs_a_new_proof_for_a_redirected_dpop_request(
    op: EvilProvider,
) -> None:
    """httpx follows redirects beneath the auth flow and sends the first
    proof along; BearerAuth then sends the hop again with its own proof,
    without a refresh. With httpx's default, no redirect is followed and
    the next request gets a proof of its own."""
    evil_dpop_login(op)
    op.canned["userinfo"] = Canned.redirect(op.url("resource"), 307)

    with httpx.Client(auth=BearerAuth(), follow_redirects=True) as client:
        followed = client.get(op.url("userinfo"))

    async def fetch() -> int:
        async with httpx.AsyncClient(auth=BearerAuth(), follow_redirects=True) as c:
            return (await c.get(op.url("userinfo"))).status_code

    assert followed.status_code == 200
    assert asyncio.run(fetch()) == 200
    proofs = [token_parts(r.headers["dpop"])[1] for r in op.requests("resource")]
    assert [p["htu"] for p in proofs] == [op.url("userinfo"), op.url("resource")] * 2
    assert refreshes(op) == 0

    with httpx.Client(auth=BearerAuth()) as client:
        stopped = client.get(op.url("userinfo"))
        assert stopped.status_code == 307
        assert stopped.next_request is not None
        assert client.send(stopped.next_request).status_code == 200
    last = token_parts(op.requests("resource")[-1].headers["dpop"])[1]
    assert last["htu"] == op.url("resource")
    assert len(op.requests("resource")) == 5
    assert refreshes(op) == 0


def test_token_format_header_prints_the_two_headers_of_one_request(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = dpop_login(provider, oauthcli_home, http_browser)
    url = userinfo_url(provider)

    result = oauthcli("token", "--format", "header", "--url", url, env=env)

    assert result.returncode == 0, result.stderr
    headers = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    token = entry(oauthcli_home)["tokens"]["access_token"]
    assert headers["Authorization"] == f"DPoP {token}"
    _, claims = checked_proof(headers["DPoP"])
    assert (claims["htm"], claims["htu"], claims["ath"]) == ("GET", url, ath(token))
    answer = httpx.get(url, headers=headers, trust_env=False)
    assert answer.status_code == 200, answer.headers

    # `--method get` is GET: the provider refuses a proof whose htm says "get".
    lower = oauthcli(
        "token", "--format", "header", "--url", url, "--method", "get", env=env
    )
    headers = dict(line.split(": ", 1) for line in lower.stdout.splitlines())
    assert checked_proof(headers["DPoP"])[1]["htm"] == "GET"
    assert httpx.get(url, headers=headers, trust_env=False).status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ("--url", "https://x/"),
        ("--format", "json", "--method", "POST"),
        ("--dpop-nonce", "n"),
    ],
)
def test_request_options_without_format_header_are_a_usage_error(
    oauthcli_home: Path, args: tuple[str, ...]
) -> None:
    result = oauthcli("token", *args, env=cli_env(oauthcli_home, None))
    assert (result.returncode, result.stdout) == (2, "")
    assert "only go with --format header" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "needs --url"),
        (("--url", "ftp://x/y"), "--url must be"),
        (("--url", "https://x/", "--method", "GE T"), "--method must be"),
        (("--url", "https://x/", "--dpop-nonce", 'a"b'), "--dpop-nonce is not"),
    ],
)
def test_token_format_header_says_what_a_dpop_header_needs(
    provider: LocalProvider,
    oauthcli_home: Path,
    http_browser: str,
    args: tuple[str, ...],
    message: str,
) -> None:
    env = dpop_login(provider, oauthcli_home, http_browser)
    result = oauthcli("token", "--format", "header", *args, env=env)
    assert result.returncode == 2  # a usage error
    assert message in result.stderr
    assert result.stdout == ""


def test_programs_that_send_bearer_tokens_get_no_dpop_token(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = dpop_login(provider, oauthcli_home, http_browser)
    token = entry(oauthcli_home)["tokens"]["access_token"]

    kubectl = oauthcli("token", "--format", "exec-credential", env=env)
    request = "protocol=https\nhost=git.example.test\n\n"
    git = oauthcli(
        "git-credential", "--profile", "default", "get", env=env, input=request
    )
    run = oauthcli("exec", "--", "sh", "-c", "echo $OAUTHCLI_ACCESS_TOKEN", env=env)

    assert kubectl.returncode == run.returncode == 1
    assert git.returncode == 0  # git shows the message, then prompts
    for result in (kubectl, git, run):
        assert "DPoP-bound" in result.stderr
        assert result.stdout == ""
        assert token not in result.stderr


def test_dpop_03_a_provider_that_wants_nonces_everywhere(
    nonce_provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    """Token endpoint, refresh and UserInfo each ask once; `token --format
    header` takes the nonce a 401 brought, as the README says."""
    provider = nonce_provider
    env = dpop_login(provider, oauthcli_home, http_browser)
    url = userinfo_url(provider)
    rejected = entry(oauthcli_home)["tokens"]["access_token"]
    assert get_token_set(rejected=rejected).token_type == "DPoP"

    with httpx.Client(auth=BearerAuth(), trust_env=False) as client:
        assert client.get(url).status_code == 200

    whoami = oauthcli("whoami", "--userinfo", "--format", "json", env=env)
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["email"] == "alice@example.test"

    first = oauthcli("token", "--format", "header", "--url", url, env=env)
    headers = dict(line.split(": ", 1) for line in first.stdout.splitlines())
    answer = httpx.get(url, headers=headers, trust_env=False)
    assert answer.status_code == 401
    assert asks_for_dpop_nonce(answer.status_code, answer.headers)
    nonce = answer.headers["dpop-nonce"]
    again = oauthcli(
        "token", "--format", "header", "--url", url, "--dpop-nonce", nonce, env=env
    )
    headers = dict(line.split(": ", 1) for line in again.stdout.splitlines())
    assert httpx.get(url, headers=headers, trust_env=False).status_code == 200


def test_oidf_50_dpop_works_with_a_provider_that_never_sends_a_nonce(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    dpop_login(provider, oauthcli_home, http_browser)
    rejected = entry(oauthcli_home)["tokens"]["access_token"]

    credentials = get_credentials(rejected=rejected)

    assert credentials.tokens.token_type == "DPoP"
    headers = credentials.headers("GET", userinfo_url(provider))
    assert "nonce" not in checked_proof(headers["DPoP"])[1]
    answer = httpx.get(userinfo_url(provider), headers=headers, trust_env=False)
    assert answer.status_code == 200
    assert "dpop-nonce" not in answer.headers


def test_login_with_dpop_is_refused_where_the_provider_offers_none(
    oauthcli_home: Path, tmp_path: Path
) -> None:
    provider = LocalProvider.start(tmp_path / "no-dpop", options={"dpop": False})
    try:
        opened = tmp_path / "opened"
        env = cli_env(oauthcli_home, f"touch {opened} %s")

        result = oauthcli(*login_args(provider, "cli-app", "--dpop"), env=env)
    finally:
        provider.stop()

    assert result.returncode == 1
    assert "does not advertise DPoP" in result.stderr
    assert "unsupported" in result.stderr or "--dpop" in result.stderr
    assert not opened.exists()
    assert stored(oauthcli_home) is None


def test_a_profile_with_dpop_true_logs_in_with_dpop_and_remembers_it(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    config = oauthcli_home / "config.toml"
    config.write_text(
        f'[profiles.work]\nissuer = "{provider.issuer}"\n'
        'client_id = "cli-app"\ndpop = true\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    env = cli_env(oauthcli_home, http_browser)

    result = oauthcli("login", "--profile", "work", "-v", env=env)

    assert result.returncode == 0, result.stderr
    assert "setting dpop from" in result.stderr
    assert entry_of(oauthcli_home, "work")["tokens"]["token_type"] == "DPoP"

    config.unlink()
    again = oauthcli("login", "--profile", "work", env=env)  # as last time
    assert again.returncode == 0, again.stderr
    assert entry_of(oauthcli_home, "work")["tokens"]["token_type"] == "DPoP"
    bearer = oauthcli("login", "--profile", "work", "--no-dpop", env=env)
    assert bearer.returncode == 0, bearer.stderr
    assert entry_of(oauthcli_home, "work")["tokens"]["token_type"] == "Bearer"
    assert "dpop" not in entry_of(oauthcli_home, "work")


def entry_of(home: Path, profile: str) -> dict[str, Any]:
    document = stored(home, profile)
    assert document is not None
    return document


def test_a_device_login_with_dpop_gets_a_bound_token(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str
) -> None:
    env = cli_env(oauthcli_home, http_browser)
    result = oauthcli(
        *login_args(provider, "cli-app", "--device", "--dpop"), env=env, timeout=90
    )
    assert result.returncode == 0, result.stderr
    document = entry(oauthcli_home)
    answer = provider.introspect(document["tokens"]["access_token"])
    assert answer["cnf"] == {"jkt": document["dpop"]["jkt"]}


def test_dpop_06_the_key_lives_in_the_keyring_with_the_refresh_token(
    provider: LocalProvider, oauthcli_home: Path, http_browser: str, tmp_path: Path
) -> None:
    keyring_file = tmp_path / "keyring.json"
    env = cli_env(
        oauthcli_home,
        http_browser,
        PYTHON_KEYRING_BACKEND="keyring_backends.FileKeyring",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])
        ),
        OAUTHCLI_TEST_KEYRING=str(keyring_file),
    )
    args = login_args(provider, "cli-app", "--dpop", "--store", "keyring")
    result = oauthcli(*args, env=env)
    assert result.returncode == 0, result.stderr

    document = entry(oauthcli_home)
    assert set(document["dpop"]) == {"jkt", "key_store"}
    kept = json.loads(keyring_file.read_text())
    (private,) = [json.loads(v) for k, v in kept.items() if k.endswith(":dpop")]
    assert DPoPKey.from_jwk(private).thumbprint == document["dpop"]["jkt"]
    assert private["d"] not in (oauthcli_home / "profiles" / "default.json").read_text()

    expired = {**document, "tokens": {**document["tokens"], "expires_at": 1.0}}
    os.environ["OAUTHCLI_HOME"] = str(oauthcli_home)
    write_entry("default", expired)
    refreshed = oauthcli("token", env=env)
    assert refreshed.returncode == 0, refreshed.stderr
    answer = provider.introspect(refreshed.stdout.strip())
    assert answer["cnf"] == {"jkt": document["dpop"]["jkt"]}

    logout = oauthcli("logout", env=env)
    assert logout.returncode == 0, logout.stderr
    assert json.loads(keyring_file.read_text()) == {}
