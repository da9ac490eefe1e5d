"""The one module that talks HTTP to the provider (the back channel).

Every request: TLS verified (system trust store, ``SSL_CERT_FILE``,
``REQUESTS_CA_BUNDLE`` or an explicit CA file; never switched off), connect
and read timeouts plus an overall deadline, redirects never followed (a 3xx is
an error: RFC 9700 section 4.12), the body read in chunks up to a cap (after
decompression), and JSON parsed strictly (no duplicate keys, no NaN).
Loopback hosts never go through a proxy from the environment. Responses
are asked for without compression (``Accept-Encoding: identity``); an encoded
answer is refused, so that no decompression bomb is ever inflated.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import __version__
from ._log import log
from .errors import TransportError, ValidationError
from .urls import is_loopback_host

if TYPE_CHECKING:
    import httpx

__all__ = ["HTTP", "Response", "parse_json_object"]

MAX_BODY_BYTES = 1 << 20  # 1 MiB: no sane discovery, JWKS or token body is bigger
# What to do when a request gets no answer in time.
_SLOW_HINT = "check the network or the proxy (HTTPS_PROXY), or try again"


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate member {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(body: bytes, what: str) -> dict[str, Any]:
    """Parse ``body`` as one JSON object; anything else is a ValidationError."""
    try:
        value = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        raise ValidationError(
            f"{what} is not valid JSON ({type(exc).__name__})",
            code="invalid_response",
        ) from exc
    if not isinstance(value, dict):
        raise ValidationError(f"{what} is not a JSON object", code="invalid_response")
    return value


@dataclass(frozen=True)
class Response:
    """What came back: status, lower-cased headers, and the (capped) body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)  # a token response carries tokens

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self, what: str) -> dict[str, Any]:
        return parse_json_object(self.body, what)


def _same_file(path: str, other: str | None) -> bool:
    try:
        return other is not None and os.path.samefile(path, other)
    except OSError:
        return False


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()  # honours SSL_CERT_FILE / SSL_CERT_DIR
    loaded = ssl.get_default_verify_paths().cafile  # what that just read
    for extra in (os.environ.get("REQUESTS_CA_BUNDLE"), ca_file):
        if extra and not _same_file(extra, loaded):  # each bundle is read once
            try:
                context.load_verify_locations(cafile=extra)
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "strerror", None) or exc.__class__.__name__
                raise TransportError(
                    f"cannot load the CA bundle {extra}: {reason}",
                    code="tls_verification_failed",
                ) from exc
    if context.cert_store_stats()["x509_ca"] == 0 and not os.environ.get(
        "SSL_CERT_DIR"
    ):
        import certifi  # a dependency of httpx; used when the OS has no CA file

        context.load_verify_locations(cafile=certifi.where())
    return context


def _reason(exc: BaseException) -> str:
    """The operating system's words for a connection failure."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror.lower()
        seen = seen.__cause__ or seen.__context__
    text = str(exc).split("] ")[-1].strip()
    return text[:80] or type(exc).__name__


def _is_tls_verification_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if isinstance(seen, ssl.SSLError) and "CERTIFICATE_VERIFY" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class HTTP:
    """A small client for the provider's endpoints; one per login or command."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        ca_file: str | None = None,
        max_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.timeout = timeout
        self.ca_file = ca_file
        self.max_bytes = max_bytes
        self._clients: dict[tuple[bool, bool], httpx.Client] = {}
        self._lock = threading.Lock()

    def _get_client(self, loopback: bool, tls: bool) -> httpx.Client:
        """The client for loopback hosts (no proxy) or for the others, for
        https or for plain http (which only loopback hosts may use)."""
        with self._lock:
            client = self._clients.get((loopback, tls))
            if client is None:
                import httpx

                # httpx logs every URL at INFO; --debug uses our own logger.
                logging.getLogger("httpx").setLevel(logging.WARNING)
                client = httpx.Client(
                    # Plain http needs no CA bundle, whose loading costs tens
                    # of milliseconds: its context trusts nothing, so it could
                    # not complete a TLS handshake either.
                    verify=_ssl_context(self.ca_file)
                    if tls
                    else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
                    follow_redirects=False,
                    timeout=httpx.Timeout(
                        self.timeout, connect=min(self.timeout, 10.0)
                    ),
                    headers={
                        "User-Agent": f"oauthcli/{__version__}",
                        "Accept-Encoding": "identity",
                    },
                    trust_env=not loopback,
                )
                self._clients[(loopback, tls)] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> HTTP:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(
        self, url: str, *, what: str, headers: Mapping[str, str] | None = None
    ) -> Response:
        return self.request("GET", url, what=what, headers=headers)

    def get_json(self, url: str, *, what: str) -> dict[str, Any]:
        """GET a JSON object that must come with HTTP 200."""
        response = self.get(url, what=what)
        if response.status_code != 200:
            raise TransportError(
                f"the {what} answered HTTP {response.status_code}",
                code="http_error",
                status_code=response.status_code,
            )
        return response.json(f"the {what}'s answer")

    def post_form(
        self,
        url: str,
        data: Mapping[str, str],
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        sent = {"Accept": "application/json", **(headers or {})}
        return self.request("POST", url, what=what, data=data, headers=sent)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and read the answer within the limits above.

        ``what`` names the endpoint in errors and logs; the URL is logged
        without its query, which may carry secrets. The whole exchange,
        headers included, must finish within three times ``timeout``: it
        runs in a worker thread that is abandoned when the deadline passes.
        """
        parts = urlsplit(url)
        log.debug(
            "%s %s://%s%s (%s)", method, parts.scheme, parts.netloc, parts.path, what
        )
        client = self._get_client(
            is_loopback_host(parts.hostname or ""), parts.scheme == "https"
        )
        outcome: list[Response | BaseException] = []
        worker = threading.Thread(
            target=self._exchange,
            args=(client, method, url, what, data, headers, outcome),
            name="oauthcli-http",
            daemon=True,
        )
        worker.start()
        worker.join(self.timeout * 3)
        if not outcome:
            # The worker may still be talking to the server: the outcome of
            # this request is unknown, so callers must not simply retry it.
            raise TransportError(
                f"the {what} at {parts.netloc} took too long to answer; {_SLOW_HINT}",
                code="deadline_exceeded",
            )
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        log.debug("%s answered HTTP %s", what, result.status_code)
        return result

    def _exchange(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        what: str,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        outcome: list[Response | BaseException],
    ) -> None:
        try:
            outcome.append(self._read(client, method, url, what, data, headers))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    def _read(
        self,
        client: httpx.Client,
        method: str,
        url: str,
        what: str,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> Response:
        import httpx

        netloc = urlsplit(url).netloc
        try:
            with client.stream(
                method,
                url,
                data=dict(data) if data is not None else None,
                headers=dict(headers or {}),
            ) as response:
                if 300 <= response.status_code < 400:
                    raise TransportError(
                        f"the {what} answered with a redirect (HTTP "
                        f"{response.status_code}); oauthcli does not follow "
                        "redirects on the back channel",
                        code="unexpected_redirect",
                    )
                encoding = response.headers.get("content-encoding", "identity")
                if encoding.strip().lower() not in ("", "identity"):
                    raise TransportError(
                        f"the {what} sent a compressed answer although none was "
                        "asked for",
                        code="invalid_response",
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_raw():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise TransportError(
                            f"the {what} sent more than {self.max_bytes} bytes",
                            code="response_too_large",
                        )
                    chunks.append(chunk)
                return Response(
                    status_code=response.status_code,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    body=b"".join(chunks),
                )
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"the {what} at {netloc} did not answer in time; {_SLOW_HINT}",
                code="timeout",
            ) from exc
        except httpx.HTTPError as exc:
            if _is_tls_verification_failure(exc):
                raise TransportError(
                    f"TLS certificate verification failed for {urlsplit(url).hostname};"
                    " if a proxy or private CA signs its certificate, point "
                    "SSL_CERT_FILE (or --ca-file) at that CA bundle",
                    code="tls_verification_failed",
                ) from exc
            if isinstance(exc, httpx.ConnectError):
                raise TransportError(
                    f"cannot connect to the {what} at {netloc} ({_reason(exc)}); "
                    "check the issuer URL and your network or proxy settings",
                    code="connect_failed",
                ) from exc
            raise TransportError(
                f"HTTP request to the {what} at {netloc} failed ({type(exc).__name__})",
                code="http_error",
            ) from exc
