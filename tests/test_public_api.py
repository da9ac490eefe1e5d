"""The curated public surface of ``oauthcli``."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import oauthcli


def test_every_name_in_all_resolves() -> None:
    for name in oauthcli.__all__:
        assert getattr(oauthcli, name) is not None


def test_the_seed_api_imports_from_the_package() -> None:
    from oauthcli import PKCE, CSRFState, OAuth2, OAuth2Constants  # noqa: F401


def test_every_module_declares_all_and_exports_what_it_defines() -> None:
    for info in pkgutil.iter_modules(oauthcli.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"oauthcli.{info.name}")
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_token_exchange_is_part_of_the_public_api() -> None:
    from oauthcli import ExchangedToken, TokenExchange, exchange_token, login

    assert {"TokenExchange", "ExchangedToken", "exchange_token"} <= set(
        oauthcli.__all__
    )
    assert callable(exchange_token)
    assert "exchange" in login.__code__.co_varnames
    assert TokenExchange().subject_token_type == "access_token"
    assert "[redacted]" in repr(ExchangedToken("not-shown", "urn:x"))


def test_public_exceptions_are_all_reexported() -> None:
    from oauthcli import errors

    for name in errors.__all__:
        if name[0].isupper():
            assert name in oauthcli.__all__, name


def test_the_token_path_imports_nothing_heavy() -> None:
    code = (
        "import sys; import oauthcli.cli, oauthcli.store; "
        "heavy = [m for m in ('httpx', 'jwt', 'cryptography', 'ssl', 'platformdirs',"
        " 'keyring', 'selenium') if m in sys.modules]; print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_login_is_the_function_whatever_was_imported_first() -> None:
    code = (
        "import oauthcli.commands, oauthcli.session; "
        "from oauthcli import LoginResult, login; import oauthcli; "
        "assert callable(login) and login is oauthcli.login, login; "
        "assert oauthcli.login.__module__ == 'oauthcli.session'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
