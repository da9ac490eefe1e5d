"""OAuth2Constants: the redirect URL rules of RFC 8252 section 7.3 and friends."""

from __future__ import annotations

import pytest

from oauthcli.constants import OAuth2Constants, parse_ports
from oauthcli.errors import LocalError


def test_a_redirect_without_a_port_means_an_ephemeral_port() -> None:
    spec = OAuth2Constants("cli", "idp.test").redirect_spec()
    assert (spec.host, spec.path, spec.ports) == ("127.0.0.1", "/callback", ())


def test_port_zero_also_means_an_ephemeral_port() -> None:
    constants = OAuth2Constants("cli", "idp.test", redirect_url="http://127.0.0.1:0/cb")
    assert constants.redirect_spec().ports == ()


def test_a_fixed_port_and_an_ipv6_host_are_kept() -> None:
    constants = OAuth2Constants("cli", "idp.test", redirect_url="http://[::1]:8400/cb")
    spec = constants.redirect_spec()
    assert (spec.host, spec.bind_addresses, spec.ports) == ("[::1]", ("::1",), (8400,))
    assert spec.uri(8400) == "http://[::1]:8400/cb"


def test_localhost_is_sent_as_written_and_bound_on_both_loopbacks() -> None:
    spec = OAuth2Constants(
        "cli", "idp.test", redirect_url="http://localhost/callback"
    ).redirect_spec()
    assert spec.host == "localhost"
    assert spec.bind_addresses == ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/callback",
        "http://0.0.0.0/callback",
        "http://192.168.1.5/callback",
        "http://example.com/callback",
        "http://127.0.0.2/callback",
        "http://127.0.0.1/callback?x=1",
        "http://user@127.0.0.1/callback",
        "not a url",
    ],
)
def test_a_redirect_that_is_not_plain_loopback_http_is_refused(url: str) -> None:
    with pytest.raises(LocalError):
        OAuth2Constants("cli", "idp.test", redirect_url=url)


def test_a_bare_host_issuer_means_https() -> None:
    assert (
        OAuth2Constants("cli", "tenant.auth0.com").issuer == "https://tenant.auth0.com"
    )


def test_the_auth_method_follows_the_secret() -> None:
    assert OAuth2Constants("cli", "idp.test").auth_method == "none"
    with_secret = OAuth2Constants("cli", "idp.test", client_secret="sup3r-s3cret")
    assert with_secret.auth_method == "client_secret_basic"
    assert "sup3r-s3cret" not in repr(with_secret)


def test_a_secret_method_without_a_secret_is_refused() -> None:
    with pytest.raises(LocalError):
        OAuth2Constants(
            "cli", "idp.test", token_endpoint_auth_method="client_secret_post"
        )


@pytest.mark.parametrize(
    ("text", "ports"),
    [("8020", (8020,)), ("8020-8022", (8020, 8021, 8022)), ("9,8", (9, 8))],
)
def test_ports_parse_as_lists_and_ranges(text: str, ports: tuple[int, ...]) -> None:
    assert parse_ports(text) == ports


@pytest.mark.parametrize(
    "path", ["//cb", "/a/../cb", "/a/./cb", "/%41", "/cb;x", "/a b"]
)
def test_a_redirect_path_the_browser_might_rewrite_is_refused(path: str) -> None:
    with pytest.raises(LocalError) as caught:
        OAuth2Constants("cli", "idp.test", redirect_url=f"http://127.0.0.1{path}")
    assert caught.value.code == "invalid_argument"


@pytest.mark.parametrize(
    "ports",
    [(0,), (70000,), (-1,), "8020", (True,), ("8020",), 8020, (8020, None)],
    ids=[
        "zero",
        "over-65535",
        "negative",
        "a-string",
        "a-bool",
        "str-items",
        "an-int",
        "none-item",
    ],
)
def test_redirect_ports_that_are_not_ports_are_refused_at_construction(
    ports: object,
) -> None:
    # Port 0 was sent to the provider as http://127.0.0.1:0/callback.
    with pytest.raises(LocalError) as refused:
        OAuth2Constants("cli", "idp.test", redirect_ports=ports)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_argument"
    assert "redirect_ports" in refused.value.message


def test_redirect_ports_take_a_list_or_a_range() -> None:
    listed = OAuth2Constants("cli", "idp.test", redirect_ports=[8020, 8022])  # type: ignore[arg-type]
    ranged = OAuth2Constants("cli", "idp.test", redirect_ports=range(8020, 8023))  # type: ignore[arg-type]
    assert listed.redirect_ports == (8020, 8022)
    assert ranged.redirect_spec().ports == (8020, 8021, 8022)


@pytest.mark.parametrize(
    "params",
    [{"max_age": "5m"}, {"max_age": "²"}, {"max_age": "-1"}, {"prompt": 1}, {"": "x"}],
    ids=[
        "max_age-5m",
        "max_age-superscript",
        "max_age-negative",
        "int-value",
        "empty-name",
    ],
)
def test_extra_params_that_cannot_be_sent_or_checked_are_refused_at_construction(
    params: dict[str, object],
) -> None:
    with pytest.raises(LocalError) as refused:
        OAuth2Constants("cli", "idp.test", extra_params=params)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_argument"


def test_max_age_in_whole_seconds_is_accepted() -> None:
    constants = OAuth2Constants("cli", "idp.test", extra_params={"max_age": "0"})
    assert constants.extra_params == {"max_age": "0"}
