"""Every parser that reads outside input, against generated input (hypothesis).

What comes from outside: the redirect's query, token and error responses,
discovery documents, JWKS, ID tokens and their claims, device authorization
answers, the store file, the config file and the OAUTHCLI_* variables. For
each, whatever the input: the parser returns, or raises one of oauthcli's
typed errors (``OAuthCLIError``), and answers within a few seconds. Where a
result comes back, it is checked against what the input said.

Examples per test come from the hypothesis profile (tests/conftest.py): 200
in CI, ``HYPOTHESIS_PROFILE=long`` for a hundred times more.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import signal
import string
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import pytest
import tomlkit
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm
from jwt.api_jws import PyJWS

from oauthcli.authorization import (
    MAX_PARAMETERS,
    MAX_VALUE_LENGTH,
    AuthorizationRequest,
    parse_callback_query,
    validate_callback,
)
from oauthcli.config import KEYS, Config, load_config, resolve_login_options
from oauthcli.device import parse_device_authorization
from oauthcli.discovery import parse_metadata
from oauthcli.errors import EndpointError, OAuthCLIError
from oauthcli.idtoken import JWKSCache, validate_id_token
from oauthcli.refresh import stored_login
from oauthcli.store import fresh_access_token, read_entry
from oauthcli.tokens import (
    MAX_EXPIRES_IN,
    TokenSet,
    parse_token_response,
    raise_for_error_response,
)
from oauthcli.transport import Response, parse_json_object
from oauthcli.urls import check_endpoint_url, is_loopback_host
from oauthcli.userinfo import id_token_claims

T = TypeVar("T")

ISSUER = "https://idp.example"
CLIENT = "cli"
STATE = "state-0123456789abcdefghijklmnopqrstuvwxyz0"
NONCE = "nonce-0123456789abcdefghijklmnopqrstuvwxyz0"
SECRET = "a-client-secret-of-32-bytes-or-more!"
NOW = 1_800_000_000.0
HANG_SECONDS = 5.0
# Each example overwrites the same file in the test's directory, so sharing
# the function-scoped fixture across examples is intended.
FILE_EXAMPLES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


class Hang(BaseException):
    """A parser did not answer in time (BaseException: nothing may catch it)."""


@contextlib.contextmanager
def bounded(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Fail an example that takes longer than ``seconds`` (a hang)."""

    def alarm(signum: int, frame: FrameType | None) -> None:
        raise Hang(f"no answer within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def typed(parse: Callable[[], T]) -> T | OAuthCLIError:
    """``parse()``'s result, or the typed error it raised; anything else fails."""
    with bounded():
        try:
            return parse()
        except OAuthCLIError as exc:
            return exc


def printable(text: str) -> bool:
    """No control, format, private-use or unassigned character in ``text``."""
    return all(unicodedata.category(ch)[0] != "C" for ch in text)


# Strategies for what a hostile party sends.

texts = st.text(st.characters(codec="utf-8"), max_size=30)  # no lone surrogates
numbers = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**53, 2**63, 10**30, 10**400, -(10**400), 1e308]),
)
# Numbers as text, the way providers and variables send them: some are digits
# only to str.isdigit(), some too long for int().
numeric_texts = st.one_of(
    st.integers(0, 10**15).map(str),
    st.sampled_from(["\u00b2", "\u0663", "1e400", "nan", "-5", " 60 ", "9" * 400]),
    st.integers(4290, 4310).map(lambda n: "1" * n),
)
seconds = st.one_of(numbers, numeric_texts)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4)
    ),
    max_leaves=12,
)


def member(good: Any) -> st.SearchStrategy[Any]:
    """A document member: the honest value most often, else anything."""
    return st.one_of(st.just(good), st.just(good), json_values)


DROP = object()  # a change that removes the member


def document(
    honest: Mapping[str, Any],
    special: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """An honest document with up to three members dropped, changed or added.

    A few changes, not every member at random: the rest stays honest, so the
    parser gets past its early checks to the changed one. A member in
    ``special`` changes to values of its own kind as well as to any JSON.
    """
    extra = {"extra": json_values, "error": json_values}
    kinds = {**extra, **{key: json_values for key in honest}, **(special or {})}
    change = st.one_of(
        *(
            st.tuples(st.just(key), st.one_of(kind, kind, json_values, st.just(DROP)))
            for key, kind in kinds.items()
        )
    )

    def changed(changes: list[tuple[str, Any]]) -> dict[str, Any]:
        doc = dict(honest)
        for key, value in changes:
            if value is DROP:
                doc.pop(key, None)
            else:
                doc[key] = value
        return doc

    return st.lists(change, max_size=3).map(changed)


def nested(depth: int) -> bytes:
    """JSON arrays ``depth`` deep: a few KB that overflow a recursive parser."""
    return b"[" * depth + b"]" * depth


def json_bytes(value: Any) -> bytes:
    """JSON as a provider might send it (NaN and huge numbers included)."""
    return json.dumps(value).encode("utf-8")


# The redirect's query (authorization.py).

LOGIN = AuthorizationRequest(
    issuer=ISSUER,
    iss_required=True,
    client_id=CLIENT,
    redirect_uri="http://127.0.0.1:8400/callback",
    state=STATE,
    nonce=NONCE,
    code_verifier="v" * 43,
    url=f"{ISSUER}/authorize",
)
callback_keys = st.sampled_from(
    [
        *("code", "state", "iss", "error", "error_description", "error_uri"),
        *("access_token", "id_token", "token_type", "response", "session_state"),
    ]
)
callback_values = st.one_of(
    st.sampled_from([STATE, ISSUER, "", "c0de", "access_denied"]),
    texts,
    st.integers(MAX_VALUE_LENGTH - 1, MAX_VALUE_LENGTH + 1).map(lambda n: "é" * n),
)
callback_pairs = st.lists(
    st.tuples(st.one_of(callback_keys, texts), callback_values), max_size=40
)


@given(
    pairs=callback_pairs,
    quoting=st.sampled_from([quote, quote_plus]),
)
def test_callback_query_parses_to_exactly_the_pairs_sent_or_is_refused(
    pairs: list[tuple[str, str]], quoting: Callable[..., str]
) -> None:
    query = urlencode(pairs, quote_via=quoting)
    keys = [key for key, _ in pairs]
    parsed = typed(lambda: parse_callback_query(query))

    refused = (
        len(set(keys)) < len(keys)
        or len(pairs) > MAX_PARAMETERS
        or any(len(value) > MAX_VALUE_LENGTH for _, value in pairs)
    )
    if refused:
        assert isinstance(parsed, OAuthCLIError)
        return
    assert parsed == {key: value for key, value in pairs if value}

    assert isinstance(parsed, dict)
    verdict = typed(lambda: validate_callback(parsed, LOGIN))
    if isinstance(verdict, str):
        assert parsed["state"] == STATE
        assert parsed["iss"] == ISSUER
        assert "error" not in parsed
        assert verdict == parsed["code"]


GOOD_QUERY = urlencode({"code": "c0de", "state": STATE, "iss": ISSUER})
middles = st.sampled_from(
    [
        GOOD_QUERY,
        GOOD_QUERY.replace(STATE, STATE[:-1]),
        GOOD_QUERY.replace("idp", "IDP"),
        GOOD_QUERY + "&error=access_denied",
        GOOD_QUERY.replace("&", ";"),
        "&",
        "",
    ]
)


@given(
    before=st.one_of(st.just(""), texts, st.binary(max_size=40).map(quote)),
    middle=middles,
    after=st.one_of(st.just(""), texts, st.text(max_size=300)),
)
def test_any_callback_query_gives_a_code_only_for_this_login(
    before: str, middle: str, after: str
) -> None:
    params = typed(lambda: parse_callback_query(before + middle + after))
    if isinstance(params, OAuthCLIError):
        return
    verdict = typed(lambda: validate_callback(params, LOGIN))
    if isinstance(verdict, str):
        assert params["state"] == STATE
        assert params["iss"] == ISSUER
        assert "error" not in params
        assert verdict == params["code"]


# Token and error responses (tokens.py, transport.py).

HONEST_TOKENS = {
    "access_token": "at-0123456789",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token": "rt-0123456789",
    "id_token": "header.payload.signature",
    "scope": "openid profile",
}
statuses = st.sampled_from([200, 200, 200, 201, 204, 302, 400, 401, 403, 500, 503])
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "", "text/html"]
)
token_texts = st.one_of(texts, st.sampled_from(["a\r\nb", "\x1b[2J", "é", " ", ""]))
token_documents = document(
    HONEST_TOKENS,
    special={
        "access_token": token_texts,
        "refresh_token": token_texts,
        "id_token": token_texts,
        "token_type": st.sampled_from(["bearer", "BEARER", "DPoP", "mac", ""]),
        "expires_in": seconds,
        "scope": st.one_of(texts, st.sampled_from(["", "openid", "a,b"])),
    },
)
bodies = st.one_of(
    json_values.map(json_bytes),
    st.binary(max_size=200),
    st.sampled_from([nested(5000), b'{"a": 1, "a": 2}', b"\xef\xbb\xbf{}", b""]),
)
token_responses = st.one_of(
    token_documents.map(
        lambda doc: Response(200, {"content-type": "application/json"}, json_bytes(doc))
    ),
    st.builds(
        lambda status, content_type, body: Response(
            status, {"content-type": content_type}, body
        ),
        statuses,
        content_types,
        st.one_of(token_documents.map(json_bytes), bodies),
    ),
)


def visible(value: str | None) -> bool:
    return value is None or (bool(value) and all(" " <= ch <= "~" for ch in value))


@given(response=token_responses)
def test_token_responses_give_checked_tokens_or_a_typed_error(
    response: Response,
) -> None:
    tokens = typed(
        lambda: parse_token_response(response, requested_scope="openid", now=NOW)
    )
    if isinstance(tokens, OAuthCLIError):
        assert printable(tokens.message)
        return
    doc = json.loads(response.body)
    assert response.status_code == 200
    assert not (isinstance(doc.get("error"), str) and doc["error"])
    assert tokens.access_token == doc["access_token"]
    assert visible(tokens.access_token)
    assert visible(tokens.refresh_token)
    assert visible(tokens.id_token)
    assert str(doc["token_type"]).lower() == "bearer"
    lifetime = doc.get("expires_in")
    if lifetime is None:
        assert tokens.expires_at is None
    elif isinstance(lifetime, int | float):
        assert tokens.expires_at == NOW + min(lifetime, MAX_EXPIRES_IN)
    if tokens.expires_at is not None:
        assert math.isfinite(tokens.expires_at)
        assert NOW <= tokens.expires_at <= NOW + MAX_EXPIRES_IN
    granted = doc.get("scope")
    assert tokens.scope == ("openid" if granted is None else granted)  # as requested
    assert TokenSet.from_dict(tokens.to_dict()) == tokens


@given(
    status=statuses,
    error=st.one_of(st.sampled_from(["invalid_grant", "slow_down"]), texts),
    description=st.one_of(st.none(), texts, json_values),
)
def test_error_bodies_keep_the_rfc_fields_and_show_no_control_characters(
    status: int, error: str, description: Any
) -> None:
    try:
        body = json.dumps(
            {"error": error, "error_description": description}, allow_nan=False
        ).encode("utf-8")
    except ValueError:  # NaN is no JSON (the token test sends it)
        reject()
    response = Response(status, {"content-type": "application/json"}, body)
    raised = typed(lambda: raise_for_error_response(response, "token endpoint"))
    if error:
        assert isinstance(raised, EndpointError)
        assert raised.error == error  # unchanged, as sent
        assert raised.status_code == status
        assert printable(raised.message)
    elif status != 200:
        assert isinstance(raised, OAuthCLIError)


@given(body=st.one_of(st.binary(max_size=300), json_values.map(json_bytes)))
def test_json_bodies_parse_to_an_object_or_a_typed_error(body: bytes) -> None:
    parsed = typed(lambda: parse_json_object(body, "the answer"))
    if not isinstance(parsed, OAuthCLIError):
        assert isinstance(parsed, dict)


# Discovery (discovery.py, urls.py).

HONEST_METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks",
    "userinfo_endpoint": f"{ISSUER}/userinfo",
    "revocation_endpoint": f"{ISSUER}/revoke",
    "device_authorization_endpoint": f"{ISSUER}/device",
    "response_types_supported": ["code"],
    "code_challenge_methods_supported": ["S256"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "authorization_response_iss_parameter_supported": True,
}
urls = st.one_of(
    st.sampled_from(
        [
            f"{ISSUER}/x",
            "http://idp.example/x",
            "http://127.0.0.1:9/x",
            "https://user:pw@idp.example/",
            "https://idp.example/#frag",
            "javascript:alert(1)",
            "https://[::1",
            "https://idp.example:99999/",
            "https://idp.example\r\n/x",
        ]
    ),
    texts.map(lambda text: f"https://{text}"),
    texts,
)


capabilities = st.lists(
    st.one_of(st.sampled_from(["code", "token", "S256", "plain", "RS256"]), texts),
    max_size=3,
)
metadata_documents = document(
    HONEST_METADATA,
    special={
        **{
            key: urls
            for key, value in HONEST_METADATA.items()
            if isinstance(value, str)
        },
        "issuer": st.one_of(urls, st.sampled_from([ISSUER + "/", ISSUER.upper()])),
        "response_types_supported": capabilities,
        "code_challenge_methods_supported": capabilities,
        "authorization_response_iss_parameter_supported": st.booleans(),
    },
)


@given(doc=metadata_documents)
def test_metadata_is_accepted_only_with_our_issuer_and_usable_urls(
    doc: dict[str, Any],
) -> None:
    metadata = typed(lambda: parse_metadata(doc, ISSUER))
    if isinstance(metadata, OAuthCLIError):
        return
    assert metadata.issuer.removesuffix("/") == ISSUER
    for endpoint in (
        metadata.authorization_endpoint,
        metadata.token_endpoint,
        metadata.jwks_uri,
        metadata.revocation_endpoint,
    ):
        if endpoint is not None:
            assert check_endpoint_url(endpoint, "endpoint") == endpoint
    if metadata.code_challenge_methods_supported is not None:
        assert "S256" in metadata.code_challenge_methods_supported
    response_types = doc.get("response_types_supported")
    assert response_types is None or "code" in response_types


@given(url=st.one_of(urls, json_values))
def test_urls_are_https_or_loopback_http_or_refused(url: Any) -> None:
    checked = typed(lambda: check_endpoint_url(url, "endpoint"))
    if isinstance(checked, OAuthCLIError):
        return
    parts = urlsplit(checked)
    assert parts.scheme == "https" or is_loopback_host(parts.hostname or "")
    assert parts.username is None
    assert parts.password is None
    assert checked.isascii()
    assert not parts.fragment


authorities = st.one_of(
    st.sampled_from(
        [
            "idp.example",
            "localhost",
            "127.0.0.1",
            "1.2.3.999",
            "[::1]",
            "[::1]x",
            "[v1.fe]",
            "[1.2.3.4]",
            "[::1%25eth0]",
            "[::ffff:1.2.3.4]",
        ]
    ),
    st.text(alphabet="0123456789abvx.:[]%@-_", max_size=24),
)
EMPTY_CONFIG = Config(Path("config.toml"))
ports = st.sampled_from(["", ":", ":443", ":0", ":x", ":99999", ":+1", ":\u0661"])


@given(
    scheme=st.sampled_from(["https://", "http://"]),
    authority=authorities,
    port=ports,
    path=st.sampled_from(["", "/", "/realms/x"]),
)
def test_an_issuer_the_config_accepts_is_one_the_http_client_accepts(
    scheme: str, authority: str, port: str, path: str
) -> None:
    """config.toml and OAUTHCLI_ISSUER are checked without httpx; what passes
    there must not fail later at login as "not a valid URL"."""
    url = scheme + authority + port + path
    resolved = typed(
        lambda: resolve_login_options(
            "default", {}, {"OAUTHCLI_ISSUER": url}, config=EMPTY_CONFIG
        )
    )
    if isinstance(resolved, OAuthCLIError):
        return
    assert check_endpoint_url(resolved["issuer"], "issuer") == url


# JWKS and ID tokens (idtoken.py).

KID = "the-key"
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_JWK: dict[str, Any] = {
    **ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True),
    "kid": KID,
    "use": "sig",
    "alg": "ES256",
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


key_material = st.one_of(st.binary(max_size=70).map(b64), json_values)
junk_jwks = st.fixed_dictionaries(
    {},
    optional={
        "kty": st.one_of(st.sampled_from(["EC", "RSA", "OKP", "oct"]), json_values),
        "crv": st.one_of(
            st.sampled_from(["P-256", "P-384", "Ed25519", "X25519"]), json_values
        ),
        "alg": st.one_of(
            st.sampled_from(["ES256", "RS256", "EdDSA", "none"]), json_values
        ),
        "use": st.one_of(st.sampled_from(["sig", "enc"]), json_values),
        "key_ops": st.one_of(st.just(["verify"]), json_values),
        "kid": st.one_of(st.just(KID), json_values),
        "x": key_material,
        "y": key_material,
        "n": key_material,
        "e": st.one_of(st.just("AQAB"), key_material),
        "k": key_material,
    },
)


def token_for(
    claims: Mapping[str, Any], kid: str | None = KID, alg: str = "ES256"
) -> str:
    """A signed token; the payload as given (PyJWT's encode checks claim types)."""
    headers = {"kid": kid} if kid is not None else {}
    key = SECRET.encode() if alg == "HS256" else EC_KEY
    return PyJWS().encode(json_bytes(claims), key, algorithm=alg, headers=headers)


VALID_CLAIMS = {
    "iss": ISSUER,
    "aud": CLIENT,
    "sub": "alice",
    "exp": NOW + 300,
    "iat": NOW,
    "nonce": NONCE,
}


@given(
    keys=st.lists(junk_jwks, max_size=6),
    honest_at=st.one_of(st.none(), st.integers(0, 6)),
    document_shape=st.sampled_from(["keys", "not a list", "missing"]),
    kid=st.sampled_from([KID, None, "other"]),
)
def test_jwks_members_never_break_the_check_and_only_the_real_key_verifies(
    keys: list[Any], honest_at: int | None, document_shape: str, kid: str | None
) -> None:
    if honest_at is not None:
        keys.insert(min(honest_at, len(keys)), EC_JWK)
    doc: dict[str, Any] = {"keys": keys}
    if document_shape == "not a list":
        doc = {"keys": {"0": keys}}
    elif document_shape == "missing":
        doc = {"jwks": keys}
    cache = JWKSCache(clock=lambda: 0.0)
    claims = typed(
        lambda: validate_id_token(
            token_for(VALID_CLAIMS, kid),
            issuer=ISSUER,
            client_id=CLIENT,
            nonce=NONCE,
            jwks=cache.source(ISSUER, f"{ISSUER}/jwks", lambda uri: doc),
            now=NOW,
        )
    )
    if isinstance(claims, OAuthCLIError):
        return
    assert document_shape == "keys"
    assert EC_JWK in keys
    assert kid != "other"  # a kid that names no key verifies nothing


def acceptable(claims: Mapping[str, Any]) -> bool:
    """OpenID Connect Core 3.1.3.7, as these tests read it (leeway 60 s)."""

    def number(name: str) -> float | None:
        value = claims.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(max(min(value, 2**53), -(2**53)))

    def finite(value: Any) -> bool:
        if isinstance(value, float):
            return math.isfinite(value)
        if isinstance(value, dict):
            return all(finite(v) for v in value.values())
        if isinstance(value, list):
            return all(finite(v) for v in value)
        return True

    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    exp, iat, nbf = number("exp"), number("iat"), number("nbf")
    return (
        finite(dict(claims))
        and claims.get("iss") == ISSUER
        and isinstance(audiences, list)
        and CLIENT in audiences
        and claims.get("azp") in (None, CLIENT)
        and (len(audiences) == 1 or claims.get("azp") is not None)
        and isinstance(claims.get("sub"), str)
        and bool(claims["sub"])
        and exp is not None
        and iat is not None
        and exp > NOW - 60
        and NOW - 3600 - 60 <= iat <= NOW + 60
        and (claims.get("nbf") is None or (nbf is not None and nbf <= NOW + 60))
        and claims.get("nonce") == NONCE
    )


times = st.one_of(
    st.sampled_from([NOW - 61, NOW - 59, NOW + 59, NOW + 61, NOW - 3661, NOW - 3659]),
    st.floats(NOW - 4000, NOW + 400),
    numbers,
)
claim_sets = document(
    VALID_CLAIMS,
    special={
        "iss": st.sampled_from([ISSUER + "/", "https://other.example", ""]),
        "aud": st.sampled_from([[CLIENT], [CLIENT, "other"], ["other"], []]),
        "azp": st.sampled_from([CLIENT, "other"]),
        "sub": st.sampled_from(["bob", ""]),
        "exp": times,
        "iat": times,
        "nbf": times,
        "nonce": st.sampled_from([NONCE.upper(), NONCE[:-1], ""]),
    },
)


@given(claims=claim_sets, use_secret=st.booleans())
def test_id_token_claims_are_accepted_exactly_when_core_allows_them(
    claims: dict[str, Any], use_secret: bool
) -> None:
    # HS256 with the client secret is the symmetric path.
    token = token_for(claims, alg="HS256" if use_secret else "ES256")
    result = typed(
        lambda: validate_id_token(
            token,
            issuer=ISSUER,
            client_id=CLIENT,
            nonce=NONCE,
            jwks=lambda refresh: [EC_JWK],
            client_secret=SECRET,
            now=NOW,
        )
    )
    assert (not isinstance(result, OAuthCLIError)) == acceptable(claims), result


segments = st.one_of(
    texts,
    st.binary(max_size=60).map(b64),
    json_values.map(lambda value: b64(json_bytes(value))),
    st.sampled_from([10, 2000, 5000]).map(lambda depth: b64(nested(depth))),
)


@given(parts=st.lists(segments, max_size=6), joined=texts)
def test_malformed_id_tokens_are_refused_with_a_typed_error(
    parts: list[str], joined: str
) -> None:
    for token in (".".join(parts), joined):
        result = typed(
            lambda token=token: validate_id_token(  # type: ignore[misc]
                token,
                issuer=ISSUER,
                client_id=CLIENT,
                nonce=NONCE,
                jwks=lambda refresh: [EC_JWK],
                client_secret=SECRET,
                now=NOW,
            )
        )
        assert isinstance(result, OAuthCLIError)
        claims = typed(lambda token=token: id_token_claims(token))  # type: ignore[misc]
        assert isinstance(claims, dict | OAuthCLIError)


# Device authorization (device.py).

HONEST_DEVICE = {
    "device_code": "dc-0123456789",
    "user_code": "WDJB-MJHT",
    "verification_uri": f"{ISSUER}/device",
    "verification_uri_complete": f"{ISSUER}/device?user_code=WDJB-MJHT",
    "expires_in": 600,
    "interval": 5,
}


device_documents = document(
    HONEST_DEVICE,
    special={
        "user_code": st.one_of(
            texts, st.sampled_from(["WDJB\x1b[2J", "WD\u202eJB", "W" * 65])
        ),
        "verification_uri": urls,
        "verification_uri_complete": urls,
    },
)


@given(
    doc=device_documents,
    expires_in=st.one_of(st.just(600), st.none(), seconds),
    interval=st.one_of(st.just(5), st.none(), seconds),
)
def test_device_answers_are_checked_or_refused(
    doc: dict[str, Any], expires_in: Any, interval: Any
) -> None:
    doc = {**doc, "expires_in": expires_in, "interval": interval}
    answer = typed(lambda: parse_device_authorization(doc))
    if isinstance(answer, OAuthCLIError):
        return
    assert printable(answer.user_code)
    assert 0 < answer.expires_in <= 86400
    assert 1 <= answer.interval <= 86400
    if isinstance(expires_in, int) and not isinstance(expires_in, bool):
        assert answer.expires_in == min(expires_in, 86400)
    check_endpoint_url(answer.verification_uri, "verification_uri")


# The store file (store.py, refresh.py) and the config file (config.py).

HONEST_STORE = {
    "version": 1,
    "settings": {"issuer": ISSUER, "client_id": CLIENT},
    "tokens": {
        "access_token": "at",
        "refresh_token": "rt",
        "expires_at": NOW + 600,
        "obtained_at": NOW,
    },
}
store_tokens = st.fixed_dictionaries(
    {
        "access_token": member("at"),
        "refresh_token": member("rt"),
        "expires_at": st.one_of(st.just(NOW + 600), numbers, json_values),
        "obtained_at": st.one_of(st.just(NOW), numbers, json_values),
    }
)
store_bytes = st.one_of(
    store_tokens.map(lambda tokens: json_bytes({**HONEST_STORE, "tokens": tokens})),
    st.builds(
        lambda doc, tokens: json_bytes({**doc, "tokens": tokens}),
        document(HONEST_STORE),
        store_tokens,
    ),
    st.binary(max_size=200),
    json_values.map(json_bytes),
)


@FILE_EXAMPLES
@given(content=store_bytes, min_ttl=st.floats(0, 10**6))
def test_any_store_file_reads_as_tokens_or_a_typed_error(
    oauthcli_home: Path, content: bytes, min_ttl: float
) -> None:
    path = oauthcli_home / "profiles" / "p.json"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)

    entry = typed(lambda: read_entry("p"))
    if isinstance(entry, OAuthCLIError) or entry is None:
        return
    # What `oauthcli token` does with it before any network: the fast path,
    # then the full read of the stored login.
    fresh = typed(lambda: fresh_access_token(entry, min_ttl, now=NOW))
    assert fresh is None or fresh == entry["tokens"]["access_token"]
    expires_at = entry["tokens"].get("expires_at")
    if fresh is not None and expires_at is not None:
        assert isinstance(expires_at, int | float)  # damage is left to the full path
        assert expires_at > NOW  # never a token that has expired
    login = typed(lambda: stored_login("p"))
    assert isinstance(login, dict)
    with bounded():
        try:
            tokens = TokenSet.from_dict(login["tokens"])
        except ValueError:  # how the caller learns "no usable token"
            return
    left = tokens.expires_in(now=NOW)
    assert left is None or math.isfinite(left)


toml_keys = st.one_of(st.sampled_from(sorted(KEYS)), texts)
toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.sampled_from([10**400, -(10**400)]),
        st.floats(allow_nan=True, allow_infinity=True),
        texts,
        st.sampled_from(["https://idp.example", "8020-8040", "google", "keyring"]),
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
    ),
    max_leaves=6,
)
profile_names = st.one_of(st.sampled_from(["work", "default", ".bad", "a" * 65]), texts)
config_documents = st.fixed_dictionaries(
    {},
    optional={
        "default_profile": st.one_of(profile_names, toml_values),
        "profiles": st.dictionaries(
            profile_names,
            st.one_of(st.dictionaries(toml_keys, toml_values, max_size=5), toml_values),
            max_size=3,
        ),
        "extra": toml_values,
    },
)
toml_fragments = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "[profiles.work]",
                "[profiles.'we ird']",
                '[profiles."a.b"]',
                "[[profiles]]",
                'issuer = "https://idp.example"',
                "port = 8020",
                "profiles.work.scope = 'openid'",
                'param = { prompt = "login" }',
                'client_secret = """\nmulti\n"""',
                "# a comment",
                "",
                "default_profile = 'work'",
                f"timeout = {'9' * 400}",
                f"port = {'1' * 5000}",
                "param = " + "[" * 3000 + "]" * 3000,
                "x = " + "{a=" * 3000 + "1" + "}" * 3000,
            ]
        ),
        texts,
    ),
    max_size=8,
).map("\n".join)


@FILE_EXAMPLES
@given(
    content=st.one_of(
        config_documents.map(lambda doc: tomlkit.dumps(doc).encode("utf-8")),
        toml_fragments.map(lambda text: text.encode("utf-8")),
        st.binary(max_size=200),
    ),
    environ=st.dictionaries(
        st.sampled_from([spec.env_var for spec in KEYS.values() if spec.env]),
        st.one_of(
            texts,
            numeric_texts,
            st.sampled_from(["8020", "8020-8040", "true", "google", "https://x"]),
        ),
        max_size=3,
    ),
)
def test_any_config_file_and_variables_load_or_give_a_typed_error(
    oauthcli_home: Path, content: bytes, environ: dict[str, str]
) -> None:
    path = oauthcli_home / "config.toml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)

    config = typed(lambda: load_config(path, warn=lambda message: None))
    if isinstance(config, OAuthCLIError):
        assert printable(config.message.replace("\n", " "))
        return
    for profile in [*config.profiles, "default"]:
        if not set(profile) <= set(string.ascii_letters + string.digits + "._-"):
            continue
        typed(
            lambda profile=profile: resolve_login_options(  # type: ignore[misc]
                profile, {}, environ, config=config
            )
        )


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_deeply_nested_json_is_refused_not_crashed_on(size: int) -> None:
    for body in (b"[" * size + b"]" * size, b'{"a":' * size + b"1" + b"}" * size):
        parsed = typed(lambda body=body: parse_json_object(body, "the answer"))  # type: ignore[misc]
        assert isinstance(parsed, OAuthCLIError)
