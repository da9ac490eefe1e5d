"""Challenges in ``WWW-Authenticate`` (RFC 9110 section 11.6.1).

A resource server's 401 says why it refused a request: ``invalid_token``
(RFC 6750 section 3.1, and RFC 9449 section 7.1 for the ``DPoP`` scheme) is
worth one refresh, ``use_dpop_nonce`` (RFC 9449 section 9) one retry with
the server's nonce. Schemes are compared case-insensitively, and one header
may hold several challenges. Pure functions: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["asks_for_dpop_nonce", "is_invalid_token", "parse_challenges"]

# RFC 9110 section 11: token, quoted-string, auth-param and token68.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_SCHEME = re.compile(_TOKEN)
_PARAM = re.compile(rf"({_TOKEN})[ \t]*=[ \t]*({_TOKEN}|{_QUOTED})")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))")
_UNQUOTE = re.compile(r"\\(.)")
MAX_CHALLENGE_LENGTH = 8192


def parse_challenges(header: str) -> list[tuple[str, dict[str, str]]]:
    """The challenges of a ``WWW-Authenticate`` value (RFC 9110 section 11.6.1).

    Each is its scheme, lower-cased (schemes are case-insensitive), and its
    parameters, names lower-cased and quoted values unquoted. Parsing stops
    at anything malformed; what came before it is kept.
    """
    challenges: list[tuple[str, dict[str, str]]] = []
    text = header[:MAX_CHALLENGE_LENGTH]
    at = 0
    after_scheme = False
    while at < len(text):
        if text[at] in " \t,":
            at += 1
            continue
        if challenges:
            param = _PARAM.match(text, at)
            if param is not None:
                value = param.group(2)
                if value.startswith('"'):
                    value = _UNQUOTE.sub(r"\1", value[1:-1])
                challenges[-1][1].setdefault(param.group(1).lower(), value)
                at, after_scheme = param.end(), False
                continue
            token68 = _TOKEN68.match(text, at) if after_scheme else None
            if token68 is not None:
                at, after_scheme = token68.end(), False
                continue
        scheme = _SCHEME.match(text, at)
        if scheme is None:
            break
        challenges.append((scheme.group().lower(), {}))
        at, after_scheme = scheme.end(), True
    return challenges


def _challenges(headers: Mapping[str, str]) -> list[tuple[str, dict[str, str]]] | None:
    value = headers.get("www-authenticate") or headers.get("WWW-Authenticate")
    if value is None or not value.strip():
        return None
    return parse_challenges(value)


def is_invalid_token(status_code: int, headers: Mapping[str, str]) -> bool:
    """A 401 that refuses the token sent (RFC 6750 section 3.1).

    That is a Bearer or DPoP challenge with ``invalid_token``, or no
    challenge at all (RFC 9110 requires one; GitHub's API sends none when a
    token is dead). Other challenges (``insufficient_scope``, another
    scheme) are not about the token's validity, and a refresh would not help.
    """
    if status_code != 401:
        return False
    challenges = _challenges(headers)
    if challenges is None:
        return True
    return any(
        scheme in ("bearer", "dpop") and params.get("error") == "invalid_token"
        for scheme, params in challenges
    )


def asks_for_dpop_nonce(status_code: int, headers: Mapping[str, str]) -> bool:
    """A resource server's ``DPoP error="use_dpop_nonce"`` (RFC 9449 section 9)."""
    if status_code != 401:
        return False
    return any(
        scheme == "dpop" and params.get("error") == "use_dpop_nonce"
        for scheme, params in _challenges(headers) or []
    )
