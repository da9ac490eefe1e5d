"""Provider metadata: well-known URLs, the document checks, and discover().

discover() runs against a real stdlib HTTP server on 127.0.0.1 (plain http is
allowed on loopback hosts, policy 11), one per test.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from oauthcli.discovery import (
    ProviderMetadata,
    discover,
    parse_metadata,
    well_known_urls,
)
from oauthcli.errors import TransportError, ValidationError
from oauthcli.transport import HTTP

ISSUER = "https://op.example.test"


# A small provider on 127.0.0.1


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


def json_reply(doc: object) -> Reply:
    return Reply(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})


class StubServer:
    """Answers GETs from a path -> Reply table (404 otherwise) and logs them."""

    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[str] = []
        self.released = threading.Event()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append(self.path)
                reply = stub.routes.get(self.path.split("?")[0], Reply(404))
                if reply.hang:
                    stub.released.wait(30)
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.01,), daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[StubServer]:
    stub = StubServer()
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def http() -> Iterator[HTTP]:
    """One client for the module: building its TLS context is the slow part."""
    with HTTP(timeout=5) as client:
        yield client


def metadata_for(issuer: str, /, **changes: Any) -> dict[str, Any]:
    """A valid metadata document for ``issuer``, with some members changed."""
    doc: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "userinfo_endpoint": f"{issuer}/me",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }
    doc.update(changes)
    return {key: value for key, value in doc.items() if value is not None}


def refusal(
    doc: Mapping[str, Any], issuer: str = ISSUER, **options: Any
) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse_metadata(doc, issuer, **options)
    return caught.value


# Well-known URLs (DISC-01)


@pytest.mark.parametrize(
    ("issuer", "oidc", "rfc8414"),
    [
        (
            "https://op.example.test",
            "https://op.example.test/.well-known/openid-configuration",
            "https://op.example.test/.well-known/oauth-authorization-server",
        ),
        (
            "https://op.example.test/",
            "https://op.example.test/.well-known/openid-configuration",
            "https://op.example.test/.well-known/oauth-authorization-server",
        ),
        (
            "https://op.example.test/tenant/v2.0",
            "https://op.example.test/tenant/v2.0/.well-known/openid-configuration",
            "https://op.example.test/.well-known/oauth-authorization-server/tenant/v2.0",
        ),
        (
            "https://op.example.test/tenant/v2.0/",
            "https://op.example.test/tenant/v2.0/.well-known/openid-configuration",
            "https://op.example.test/.well-known/oauth-authorization-server/tenant/v2.0",
        ),
        (
            "http://127.0.0.1:8443/realms/dev",
            "http://127.0.0.1:8443/realms/dev/.well-known/openid-configuration",
            "http://127.0.0.1:8443/.well-known/oauth-authorization-server/realms/dev",
        ),
    ],
    ids=["bare", "trailing-slash", "path", "path-trailing-slash", "port"],
)
def test_disc_01_oidc_appends_and_rfc_8414_inserts_the_well_known_path(
    issuer: str, oidc: str, rfc8414: str
) -> None:
    assert well_known_urls(issuer) == (oidc, rfc8414)


# The document (DISC-02)


def test_a_complete_document_is_accepted() -> None:
    doc = metadata_for(
        ISSUER,
        authorization_response_iss_parameter_supported=True,
        device_authorization_endpoint=f"{ISSUER}/device",
        x_vendor_extension={"anything": [1, 2]},
    )

    metadata = parse_metadata(doc, ISSUER)

    assert metadata.issuer == ISSUER
    assert metadata.authorization_endpoint == f"{ISSUER}/auth"
    assert metadata.token_endpoint == f"{ISSUER}/token"
    assert metadata.jwks_uri == f"{ISSUER}/jwks"
    assert metadata.device_authorization_endpoint == f"{ISSUER}/device"
    assert metadata.authorization_response_iss_parameter_supported is True
    assert metadata.code_challenge_methods_supported == ("S256",)
    assert metadata.id_token_signing_alg_values_supported == ("RS256", "ES256")
    assert metadata.from_discovery is True


@pytest.mark.parametrize(
    "doc", [[], "issuer", 42, None], ids=["array", "string", "number", "null"]
)
def test_disc_02_document_that_is_not_an_object_is_refused(doc: Any) -> None:
    error = refusal(doc)

    assert error.code == "invalid_metadata"


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("issuer", 123),
        ("issuer", ["https://op.example.test"]),
        ("authorization_endpoint", 42),
        ("token_endpoint", {"url": "https://op.example.test/token"}),
        ("jwks_uri", ["https://op.example.test/jwks"]),
        ("userinfo_endpoint", True),
        ("revocation_endpoint", 1.5),
        ("response_types_supported", "code"),
        ("response_types_supported", ["code", 7]),
        ("code_challenge_methods_supported", "S256"),
        ("id_token_signing_alg_values_supported", [None]),
        ("authorization_response_iss_parameter_supported", "true"),
        ("authorization_response_iss_parameter_supported", 1),
    ],
    ids=repr,
)
def test_disc_02_member_of_the_wrong_type_is_named(member: str, value: Any) -> None:
    error = refusal(metadata_for(ISSUER, **{member: value}))

    assert error.code == "invalid_metadata"
    assert member in str(error)


@pytest.mark.parametrize(
    "member", ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"]
)
def test_disc_02_missing_required_member_is_named(member: str) -> None:
    doc = metadata_for(ISSUER)
    del doc[member]

    error = refusal(doc)

    assert error.code == "invalid_metadata"
    assert member in str(error)


@pytest.mark.parametrize("member", ["authorization_endpoint", "token_endpoint"])
def test_disc_02_empty_endpoint_is_named(member: str) -> None:
    error = refusal(metadata_for(ISSUER, **{member: ""}))

    assert member in str(error)


def test_jwks_uri_may_be_absent_when_no_id_token_is_checked() -> None:
    doc = metadata_for(ISSUER, jwks_uri=None)

    assert parse_metadata(doc, ISSUER, need_jwks=False).jwks_uri is None


@pytest.mark.parametrize(
    "types", [["token"], ["id_token", "code id_token"], []], ids=repr
)
def test_disc_02_response_types_without_code_are_refused(types: list[str]) -> None:
    error = refusal(metadata_for(ISSUER, response_types_supported=types))

    assert error.code == "invalid_metadata"
    assert "response_types_supported" in str(error)


def test_response_types_absent_are_accepted() -> None:
    doc = metadata_for(ISSUER, response_types_supported=None)

    assert parse_metadata(doc, ISSUER).token_endpoint == f"{ISSUER}/token"


# Issuer (OIDC Discovery section 4.3)


@pytest.mark.parametrize(
    "published",
    [
        "https://evil.example.test",
        "https://op.example.test/other",
        "https://OP.example.test",
        "https://op.example.test:443",
        "https://op.example.test/.",
        "http://op.example.test",
    ],
)
def test_oidf_18_issuer_that_is_not_the_configured_one_is_refused(
    published: str,
) -> None:
    error = refusal(metadata_for(published))

    assert error.code == "issuer_mismatch"


@pytest.mark.parametrize(
    ("published", "configured"),
    [
        ("https://op.example.test/", "https://op.example.test"),
        ("https://op.example.test", "https://op.example.test/"),
        ("https://op.example.test/tenant/", "https://op.example.test/tenant"),
    ],
)
def test_issuer_differing_only_by_a_trailing_slash_is_tolerated_and_kept(
    published: str, configured: str
) -> None:
    metadata = parse_metadata(metadata_for(published), configured)

    assert metadata.issuer == published


def test_issuer_with_more_than_one_extra_trailing_slash_is_refused() -> None:
    error = refusal(metadata_for(ISSUER + "//"), ISSUER)

    assert error.code == "issuer_mismatch"


# PKCE support (PKCE-04, PKCE-05)


@pytest.mark.parametrize("methods", [["plain"], [], ["plain", "S512"]], ids=repr)
def test_pkce_04_provider_without_s256_is_refused(methods: list[str]) -> None:
    error = refusal(metadata_for(ISSUER, code_challenge_methods_supported=methods))

    assert "S256" in str(error)
    assert "code_challenge_methods_supported" in str(error)


def test_pkce_04_plain_alongside_s256_is_accepted() -> None:
    doc = metadata_for(ISSUER, code_challenge_methods_supported=["plain", "S256"])

    metadata = parse_metadata(doc, ISSUER)

    assert metadata.code_challenge_methods_supported == ("plain", "S256")


def test_pkce_05_absent_code_challenge_methods_is_accepted() -> None:
    doc = metadata_for(ISSUER, code_challenge_methods_supported=None)

    assert parse_metadata(doc, ISSUER).code_challenge_methods_supported is None


# URLs the client will use (URL-01, TLS-02)

BAD_URLS = [
    "file:///etc/passwd",
    "javascript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "search-ms:query=invoice&crumb=location:\\\\evil.example.test\\share",
    "ms-msdt:/id PCWDiagnostic /skip force",
    "vscode://extension/install",
    "myapp://callback",
    "ftp://op.example.test/token",
    "https://user:pass@op.example.test/token",
    "https://user@op.example.test/token",
    "https://:pass@op.example.test/token",
    "http://op.example.test/token",
    "http://10.0.0.1/token",
    "http://0.0.0.0/token",
    "http://localhost.evil.example.test/token",
    "http://127.0.0.1.nip.io/token",
    "//op.example.test/token",
    "/token",
    "https:///token",
    "https://op.example.test/token#fragment",
    "https://op.example.test/to ken",
    " https://op.example.test/token",
    "https://op.example.test/token\n",
    "https://op.example.test:99999/token",
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(
    "member",
    ["authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"],
)
def test_url_01_endpoint_that_is_not_a_safe_https_url_is_refused(
    member: str, url: str
) -> None:
    error = refusal(metadata_for(ISSUER, **{member: url}))

    assert error.code == "insecure_url"
    assert member in str(error)


@pytest.mark.parametrize(
    "issuer", ["http://op.example.test", "http://192.168.1.10:8080"]
)
def test_tls_02_http_issuer_on_a_non_loopback_host_is_refused(issuer: str) -> None:
    error = refusal(metadata_for(issuer), issuer)

    assert error.code == "insecure_url"


@pytest.mark.parametrize(
    "issuer",
    [
        "http://127.0.0.1:8080",
        "http://127.42.0.7:8080",
        "http://[::1]:8080",
        "http://localhost:8080",
        "http://LOCALHOST:8080",
    ],
)
def test_tls_02_http_is_allowed_on_loopback_hosts(issuer: str) -> None:
    metadata = parse_metadata(metadata_for(issuer), issuer)

    assert metadata.token_endpoint == f"{issuer}/token"


def test_overrides_win_over_the_document() -> None:
    overrides = {
        "token_endpoint": "https://gateway.example.test/token",
        "userinfo_endpoint": None,
    }

    metadata = parse_metadata(metadata_for(ISSUER), ISSUER, overrides=overrides)

    assert metadata.token_endpoint == "https://gateway.example.test/token"
    assert metadata.authorization_endpoint == f"{ISSUER}/auth"
    assert metadata.userinfo_endpoint == f"{ISSUER}/me"


def test_override_fills_a_member_the_document_lacks() -> None:
    doc = metadata_for(ISSUER, token_endpoint=None)
    overrides = {"token_endpoint": "https://op.example.test/oauth/token"}

    metadata = parse_metadata(doc, ISSUER, overrides=overrides)

    assert metadata.token_endpoint == "https://op.example.test/oauth/token"


@pytest.mark.parametrize(
    "url", ["http://gateway.example.test/token", "javascript:alert(1)"]
)
def test_override_is_held_to_the_same_url_rules(url: str) -> None:
    error = refusal(metadata_for(ISSUER), overrides={"token_endpoint": url})

    assert error.code == "insecure_url"


# discover() against a real server


def test_discover_reads_the_openid_configuration(
    server: StubServer, http: HTTP
) -> None:
    issuer = server.origin
    server.routes["/.well-known/openid-configuration"] = json_reply(
        metadata_for(issuer)
    )

    metadata = discover(http, issuer)

    assert metadata.token_endpoint == f"{issuer}/token"
    assert metadata.from_discovery is True
    assert server.requests == ["/.well-known/openid-configuration"]


def test_discover_falls_back_to_the_rfc_8414_document(
    server: StubServer, http: HTTP
) -> None:
    issuer = server.origin
    server.routes["/.well-known/oauth-authorization-server"] = json_reply(
        metadata_for(issuer)
    )

    metadata = discover(http, issuer)

    assert metadata.from_discovery is True
    assert metadata.token_endpoint == f"{issuer}/token"
    assert server.requests == [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ]


def test_disc_01_discover_with_an_issuer_path_uses_both_forms(
    server: StubServer, http: HTTP
) -> None:
    issuer = f"{server.origin}/tenant/v2.0"
    server.routes["/.well-known/oauth-authorization-server/tenant/v2.0"] = json_reply(
        metadata_for(issuer)
    )

    metadata = discover(http, issuer + "/")

    assert metadata.issuer == issuer
    assert server.requests == [
        "/tenant/v2.0/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/tenant/v2.0",
    ]


def test_discover_without_any_document_uses_the_seed_paths(
    server: StubServer, http: HTTP
) -> None:
    issuer = server.origin

    metadata = discover(http, issuer)

    assert metadata == ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=f"{issuer}/authorize",
        token_endpoint=f"{issuer}/oauth/token",
        jwks_uri=f"{issuer}/.well-known/jwks.json",
        from_discovery=False,
    )
    assert metadata.from_discovery is False
    assert len(server.requests) == 2


def test_discover_refuses_a_document_for_another_issuer(
    server: StubServer, http: HTTP
) -> None:
    server.routes["/.well-known/openid-configuration"] = json_reply(
        metadata_for("http://127.0.0.1:1")
    )

    with pytest.raises(ValidationError) as caught:
        discover(http, server.origin)

    assert caught.value.code == "issuer_mismatch"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}),
        json_reply(["not", "an", "object"]),
        Reply(200, b'{"issuer": "a", "issuer": "b"}'),
    ],
    ids=["html", "array", "duplicate-members"],
)
def test_disc_02_discovery_body_that_is_not_a_json_object_is_refused(
    server: StubServer, http: HTTP, reply: Reply
) -> None:
    server.routes["/.well-known/openid-configuration"] = reply

    with pytest.raises(ValidationError):
        discover(http, server.origin)


def test_discovery_server_error_is_a_transport_error(
    server: StubServer, http: HTTP
) -> None:
    server.routes["/.well-known/openid-configuration"] = Reply(500, b"oops")

    with pytest.raises(TransportError) as caught:
        discover(http, server.origin)

    assert "500" in str(caught.value)
    assert server.requests == ["/.well-known/openid-configuration"]


def test_redir_06_discovery_redirect_is_not_followed(
    server: StubServer, http: HTTP
) -> None:
    target = f"{server.origin}/elsewhere/openid-configuration"
    server.routes["/.well-known/openid-configuration"] = Reply(
        302, b"", {"Location": target}
    )
    server.routes["/elsewhere/openid-configuration"] = json_reply(
        metadata_for(server.origin)
    )

    with pytest.raises(TransportError) as caught:
        discover(http, server.origin)

    assert caught.value.code == "unexpected_redirect"
    assert server.requests == ["/.well-known/openid-configuration"]


def test_http_02_discovery_body_over_one_mib_is_refused(
    server: StubServer, http: HTTP
) -> None:
    body = b'{"issuer": "' + b"x" * (2 << 20) + b'"}'
    server.routes["/.well-known/openid-configuration"] = Reply(200, body)

    with pytest.raises(TransportError) as caught:
        discover(http, server.origin)

    assert caught.value.code == "response_too_large"


def test_http_02_a_gzip_bomb_is_refused_without_being_inflated(
    server: StubServer, http: HTTP
) -> None:
    # oauthcli asks for Accept-Encoding: identity and refuses any encoded
    # answer, so nothing is ever decompressed.
    bomb = gzip.compress(b" " * (4 << 20), compresslevel=9)
    assert len(bomb) < 100_000
    server.routes["/.well-known/openid-configuration"] = Reply(
        200,
        bomb,
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )

    with pytest.raises(TransportError) as caught:
        discover(http, server.origin)

    assert caught.value.code == "invalid_response"
    assert "compressed" in caught.value.message


def test_http_01_server_that_never_answers_times_out(server: StubServer) -> None:
    server.routes["/.well-known/openid-configuration"] = Reply(hang=True)
    started = time.monotonic()

    with HTTP(timeout=1) as http, pytest.raises(TransportError) as caught:
        discover(http, server.origin)

    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 5


def test_an_issuer_with_a_query_is_refused() -> None:
    from oauthcli.urls import normalize_issuer

    with pytest.raises(ValidationError) as caught:
        normalize_issuer("https://idp.example.test/?tenant=a")
    assert caught.value.code == "insecure_url"


@pytest.mark.parametrize(
    "url",
    [
        "https://idp.example.test/auth\x1b]8;;https://evil.example\x07",
        "https://idp.example.test/a\x7fb",
        "https://ⓛocalhost.example/token",
        "http://[::1]evil.com/",
        "https://idp.example.test:99999/",
    ],
)
def test_endpoint_urls_with_control_characters_or_that_httpx_cannot_parse_are_refused(
    url: str,
) -> None:
    from oauthcli.urls import check_endpoint_url

    with pytest.raises(ValidationError) as caught:
        check_endpoint_url(url, "token_endpoint")
    assert caught.value.code == "insecure_url"
