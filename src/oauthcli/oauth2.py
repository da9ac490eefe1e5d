"""The authorization code flow with PKCE, as the seed's ``OAuth2`` object.

::

    with PKCE() as pkce, CSRFState() as csrf_state:
        flow = OAuth2(pkce, csrf_state, OAuth2Constants(client_id, issuer))
        code = flow.authorization_request()          # legs A + B
        access_token = flow.access_token_request(code)  # legs C + D

Leg A builds the authorization request (RFC 6749 section 4.1.1 with RFC 7636
S256, ``state``, and ``nonce`` when ``openid`` is requested), starts the
loopback listener, prints the URL and opens the browser. Leg B waits for the
redirect back and checks it (see ``authorization``). Legs C + D redeem the
code with the same ``redirect_uri`` string and the ``code_verifier``, check
the token response and, for OpenID Connect, the ID token.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from . import dpop
from ._log import log
from .authorization import (
    AuthorizationRequest,
    build_authorization_url,
    validate_callback,
)
from .browser import Opener, browser_unavailable_reason, is_wsl, open_browser
from .constants import OAuth2Constants, check_extra_params
from .discovery import (
    ProviderMetadata,
    discover,
    explicit_metadata,
    well_known_urls,
)
from .errors import EndpointError, LocalError, ValidationError
from .idtoken import JWKSCache, validate_id_token
from .loopback import LoopbackServer
from .paste import can_read_pastes, start_paste_reader
from .pkce import PKCE
from .progress import Waiting, waiting
from .state import CSRFState
from .tokens import TokenSet, client_auth, parse_token_response
from .transport import HTTP

if TYPE_CHECKING:
    from .dpop import DPoPKey

__all__ = [
    "OAuth2",
    "check_id_token",
    "check_scopes",
    "notify_stderr",
    "provider_metadata",
]


Notify = Callable[[str], None]
WSL_HINT_DELAY = 15.0

JWKS = JWKSCache()  # per process, keyed by issuer


def notify_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class OAuth2:
    """One login's authorization code flow (see the module docstring).

    ``opener`` replaces the browser launcher (``None``: ``webbrowser``);
    ``open_browser=False`` only prints the URL; ``notify`` receives the lines
    meant for the user (default: stderr); with ``paste_input`` (a text
    stream, e.g. ``sys.stdin``) the user may also paste the address the
    browser ended on (see ``paste``). With ``constants.dpop`` the tokens are
    bound to ``dpop_key`` (a new key when none is given; see ``dpop``).
    """

    def __init__(
        self,
        pkce: PKCE,
        csrf_state: CSRFState,
        oauth2_constants: OAuth2Constants,
        *,
        http: HTTP | None = None,
        opener: Opener | None = None,
        open_browser: bool = True,
        notify: Notify | None = None,
        jwks_cache: JWKSCache | None = None,
        paste_input: TextIO | None = None,
        dpop_key: DPoPKey | None = None,
    ) -> None:
        self.pkce = pkce
        self.csrf_state = csrf_state
        self.constants = oauth2_constants
        self._http = http or HTTP(
            timeout=oauth2_constants.http_timeout, ca_file=oauth2_constants.ca_file
        )
        self._opener = opener
        self._open_browser = open_browser
        self._notify = notify or notify_stderr
        self._jwks = jwks_cache or JWKS
        self._paste_input = paste_input
        self.dpop_key = dpop_key
        self._metadata: ProviderMetadata | None = None
        self._redirect_uri: str | None = None
        self._extra_sent: Mapping[str, str] = oauth2_constants.extra_params
        # Whether this flow's state, nonce and challenge have left the process
        # (one authorization request per flow), and the request whose code is
        # still to be redeemed (once).
        self._requested = False
        self._request_sent: AuthorizationRequest | None = None
        self._pending: AuthorizationRequest | None = None
        self.id_token_claims: dict[str, Any] | None = None

    def __repr__(self) -> str:
        c = self.constants
        return f"OAuth2(client_id={c.client_id!r}, issuer={c.issuer!r})"

    @property
    def metadata(self) -> ProviderMetadata:
        """The provider's checked metadata, found on first use."""
        if self._metadata is None:
            self._metadata = provider_metadata(self._http, self.constants, self._notify)
        return self._metadata

    @property
    def redirect_uri(self) -> str | None:
        """The exact ``redirect_uri`` of the authorization request."""
        return self._redirect_uri

    def _authorization_params(
        self, redirect_uri: str, connection: str | None
    ) -> dict[str, str]:
        c = self.constants
        challenge = self.pkce.challenge
        params = {
            "response_type": "code",
            "client_id": c.client_id,
            "redirect_uri": redirect_uri,
            "scope": c.scope,
            "state": self.csrf_state.state,
            "code_challenge": challenge,
            "code_challenge_method": PKCE.challenge_method,
        }
        if c.wants_openid:
            params["nonce"] = self.csrf_state.nonce
        if self.dpop_key is not None:
            params["dpop_jkt"] = self.dpop_key.thumbprint  # RFC 9449 section 10
        if c.audience:
            params["audience"] = c.audience
        if connection:
            params["connection"] = connection
        # None of them names one of ours (_refuse_own_params saw to it); ours
        # win all the same.
        params.update(
            (key, value) for key, value in self._extra_sent.items() if key not in params
        )
        return params

    def _refuse_own_params(
        self, extra: Mapping[str, str], connection: str | None
    ) -> None:
        """Refuse extra parameters that would replace oauthcli's own (those
        ``_authorization_params`` sets), before anything is sent."""
        c = self.constants
        own = {
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        }
        optional = {
            "nonce": c.wants_openid,
            "dpop_jkt": c.dpop or self.dpop_key is not None,
            "audience": bool(c.audience),
            "connection": bool(connection),
        }
        own |= {name for name, sent in optional.items() if sent}
        for key in extra:
            if key in own:
                raise LocalError(
                    f"parameter {key!r} is set by oauthcli and cannot be overridden",
                    code="invalid_argument",
                )

    def authorization_request(
        self,
        connection: str | None = None,
        *,
        extra_params: Mapping[str, str] | None = None,
    ) -> str:
        """Legs A + B: send the user to the provider and return the code.

        ``connection`` is passed as the Auth0 parameter of that name. A flow
        makes one authorization request: its state, nonce and code challenge
        belong to that request alone (a retry needs a new flow, with a new
        ``PKCE`` and ``CSRFState``).
        """
        if self._requested:
            raise _finished(
                "this OAuth2 flow has made its authorization request; each login "
                "needs a new flow, with a new PKCE and CSRFState"
            )
        _held(self.csrf_state)
        check_extra_params(extra_params or {})
        extra = {**self.constants.extra_params, **(extra_params or {})}
        self._refuse_own_params(extra, connection)
        self.pkce.construct_challenge()
        # From here the state, nonce and challenge may leave the process (a
        # pushed request sends them before the browser opens): whatever
        # happens next, they serve no other request.
        self._requested = True
        self.csrf_state.mark_sent()
        # Sent with the request, and what its ID token is checked against
        # (max_age, an essential acr).
        self._extra_sent = extra
        try:
            code = self._authorize(connection)
        except BaseException:
            self.close()  # no token request follows a failed leg B
            raise
        self._pending = self._request_sent
        return code

    def _authorize(self, connection: str | None) -> str:
        c = self.constants
        metadata = self.metadata
        self._check_features(metadata)
        server = LoopbackServer(c.redirect_spec())
        server.bind()
        try:
            return self._serve(server, connection)
        finally:
            server.close()  # the port is free before the code is redeemed

    def _serve(
        self,
        server: LoopbackServer,
        connection: str | None,
    ) -> str:
        c = self.constants
        metadata = self.metadata
        redirect_uri = server.redirect_uri
        params = self._authorization_params(redirect_uri, connection)
        request = AuthorizationRequest(
            issuer=metadata.issuer,
            iss_required=metadata.authorization_response_iss_parameter_supported,
            client_id=c.client_id,
            redirect_uri=redirect_uri,
            state=params["state"],
            nonce=params.get("nonce"),
            code_verifier=self.pkce.verifier,
            url=self._authorization_url(metadata, params),
        )
        self._redirect_uri = redirect_uri
        self._request_sent = request
        server.serve(
            lambda callback: validate_callback(callback, request),
            on_forged=lambda: self._notify(
                "Ignored a request to the login listener that did not carry this "
                "login's state (another program on this machine?). Still waiting."
            ),
        )
        log.info("listening for the redirect on %s", redirect_uri)
        # What the callback will need (~100 ms of imports) loads while the
        # user is at the provider.
        _warm_up(("jwt", "filelock") if c.wants_openid else ("filelock",))
        pasting = can_read_pastes(self._paste_input)
        self._announce(request.url, redirect_uri, metadata, pasting)
        stop_reading = threading.Event()
        with self._waiting(redirect_uri, metadata, pasting) as status:
            if pasting and status.lines is not None:
                start_paste_reader(
                    server,
                    status.lines,
                    status.notify,
                    stop_reading,
                    on_end=status.input_ended,
                )
            hint = self._wsl_hint(redirect_uri, metadata, pasting)
            try:
                return server.wait(c.login_timeout)
            except LocalError as exc:
                if exc.code == "timeout":
                    registered = self._registered_form(redirect_uri)
                    raise LocalError(
                        f"{exc.message}. If the browser showed an error, check "
                        f"that client {c.client_id!r} exists at "
                        f"{metadata.issuer} and allows the redirect URI "
                        f"{registered}; if the browser is on another machine, "
                        "paste the address it ended on"
                        + _or_device(metadata, "use `{}`"),
                        code="timeout",
                    ) from None
                raise
            finally:
                stop_reading.set()  # its next line is the host program's
                if hint is not None:
                    hint.cancel()

    def _check_features(self, metadata: ProviderMetadata) -> None:
        """Refuse DPoP or PAR the provider does not offer, before the browser."""
        if self.constants.dpop or self.dpop_key is not None:
            dpop.check_support(metadata)
            self.dpop_key = self.dpop_key or dpop.DPoPKey.generate()
        if not self._pushes(metadata) or metadata.pushed_authorization_request_endpoint:
            return
        if metadata.require_pushed_authorization_requests:
            raise ValidationError(
                f"{metadata.issuer} requires pushed authorization requests "
                "(RFC 9126) but names no pushed_authorization_request_endpoint",
                code="invalid_metadata",
            )
        raise ValidationError(
            f"{metadata.issuer} offers no pushed authorization requests (no "
            "pushed_authorization_request_endpoint); log in without --par",
            code="unsupported",
        )

    def _pushes(self, metadata: ProviderMetadata) -> bool:
        return self.constants.par or metadata.require_pushed_authorization_requests

    def _authorization_url(
        self, metadata: ProviderMetadata, params: Mapping[str, str]
    ) -> str:
        """The browser's URL: every parameter, or a pushed request's reference."""
        endpoint = metadata.authorization_endpoint
        if not self._pushes(metadata):
            return build_authorization_url(endpoint, params)
        from .par import authorization_url_params, push_authorization_request

        c = self.constants
        body, headers = client_auth(c.client_id, c.client_secret, c.auth_method)
        assert metadata.pushed_authorization_request_endpoint is not None
        pushed = push_authorization_request(
            self._http,
            metadata.pushed_authorization_request_endpoint,
            params,
            auth_body=body,
            auth_headers=headers,
            dpop_key=self.dpop_key,
        )
        return build_authorization_url(
            endpoint, authorization_url_params(c.client_id, pushed)
        )

    @contextlib.contextmanager
    def _waiting(
        self, redirect_uri: str, metadata: ProviderMetadata, pasting: bool
    ) -> Iterator[Waiting]:
        """The live status, or the plain line, while the browser is out.

        The flow's lines go through the status meanwhile, so that they print
        above it (see ``progress``).
        """
        ways = ["Ctrl-C to cancel"]
        if pasting:
            ways.append("paste the address here")
        if device := _or_device(metadata, "`{}` instead"):
            ways.append(device.removeprefix(", or "))
        message = f"Waiting for the browser to return to {redirect_uri}"
        notify = self._notify
        with waiting(
            message,
            ways,
            plain=f"{message} (Ctrl-C to cancel)...",
            notify=None if notify is notify_stderr else notify,
            keyboard=self._paste_input if pasting else None,
        ) as status:
            self._notify = status.notify
            try:
                yield status
            finally:
                self._notify = notify

    def _wsl_hint(
        self, redirect_uri: str, metadata: ProviderMetadata, pasting: bool
    ) -> threading.Timer | None:
        """Under WSL, say after a while that the redirect may not get through (C04)."""
        if self._opener is not None or not is_wsl():
            return None
        ways = ["paste here the address the browser ended on"] if pasting else []
        if device := _or_device(metadata, "log in with `{}` instead"):
            ways.append(device.removeprefix(", or "))
        message = (
            "Still waiting. Under WSL the browser's redirect to "
            f"{redirect_uri} may not reach oauthcli"
            + (f": {' or '.join(ways)}." if ways else ".")
        )
        timer = threading.Timer(WSL_HINT_DELAY, self._notify, (message,))
        timer.daemon = True
        timer.start()
        return timer

    def _registered_form(self, redirect_uri: str) -> str:
        """The redirect URI as it must be registered (RFC 8252 section 7.3)."""
        if self.constants.redirect_spec().ports:
            return redirect_uri
        spec = self.constants.redirect_spec()
        return f"http://{spec.host}{spec.path} (any port)"

    def _announce(
        self, url: str, redirect_uri: str, metadata: ProviderMetadata, pasting: bool
    ) -> None:
        self._notify(f"To log in, open this URL in a browser:\n\n    {url}\n")
        reason = None if self._opener else browser_unavailable_reason()
        if not self._open_browser:
            pass
        elif reason is not None:
            # Never claim a browser opened (C05); say what works instead (C06).
            self._notify(
                f"Not opening a browser: {reason}. Open the URL above in a browser "
                "on any machine."
            )
            if device := _or_device(metadata, "{}"):
                self._notify(
                    f"Or log in with a code instead: {device.removeprefix(', or ')}"
                )
        else:
            # Said now, before the wait starts: a launcher may block until the
            # browser closes, and "opened" from it proves nothing (a dead X
            # server, a browser that crashes at once). A failure it reports
            # follows, above the status line.
            device = _or_device(metadata, "log in with `{}`")
            self._notify(
                "Asked the browser to open the login page; if nothing appeared, "
                f"open the URL above yourself{device}."
            )
            # What is known of a failure (a BROWSER command's exit status),
            # through whatever self._notify is by then (the live status).
            open_browser(
                url, opener=self._opener, on_failure=lambda line: self._notify(line)
            )
        if pasting:
            self._notify(
                "If the browser is on another machine, log in there and paste "
                f"here the address it ends on (it starts with {redirect_uri})."
            )

    def access_token_request(self, auth_code: str) -> str:
        """Legs C + D: redeem ``auth_code`` and return the access token."""
        return self.token_request(auth_code).access_token

    def token_request(self, auth_code: str) -> TokenSet:
        """Legs C + D, returning the whole checked token set.

        The code of the flow's authorization request is redeemed once, and
        only while the ``PKCE`` and ``CSRFState`` blocks of the flow last.
        """
        request, self._pending = self._pending, None
        if request is None:
            raise _finished(
                "no authorization code to redeem: a flow redeems the code of its "
                "own authorization_request(), once"
            )
        try:
            if _held(self.pkce) != request.code_verifier:
                raise _finished(
                    "the flow's PKCE made a new challenge after the authorization "
                    "request; its code cannot be redeemed"
                )
            _held(self.csrf_state)
            return self._redeem(auth_code, request)
        finally:
            self.close()

    def _redeem(self, auth_code: str, request: AuthorizationRequest) -> TokenSet:
        c = self.constants
        metadata = self.metadata
        body, headers = client_auth(c.client_id, c.client_secret, c.auth_method)
        form = {
            "grant_type": "authorization_code",
            "code": auth_code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
            **body,
        }
        log.info("redeeming the authorization code at %s", metadata.token_endpoint)
        response = dpop.post_form(
            self._http,
            metadata.token_endpoint,
            form,
            what="token endpoint",
            headers=headers,
            key=self.dpop_key,
        )
        try:
            tokens = parse_token_response(
                response,
                requested_scope=c.scope,
                scope_separator=c.scope_separator,
                dpop=self.dpop_key is not None,
            )
        except EndpointError as exc:
            if exc.error in (
                "redirect_uri_mismatch",
                "invalid_grant",
                "invalid_request",
                "bad_verification_code",  # GitHub's invalid_grant
            ):
                exc.args = (
                    f"{exc.message} (redirect_uri sent: {request.redirect_uri})",
                )
            raise
        self._check_scopes(tokens)
        if c.wants_openid:
            self.id_token_claims = self._check_id_token(tokens, request, metadata)
            log.info("the ID token is valid (signature, iss, aud, exp, iat, nonce)")
        return tokens

    def _check_scopes(self, tokens: TokenSet) -> None:
        check_scopes(self.constants, tokens)

    def _check_id_token(
        self,
        tokens: TokenSet,
        request: AuthorizationRequest,
        metadata: ProviderMetadata,
    ) -> dict[str, Any]:
        return check_id_token(
            self._http,
            self.constants,
            metadata,
            tokens,
            request.nonce,
            self._jwks,
            extra_params=self._extra_sent,
        )

    def close(self) -> None:
        """Close the back-channel connections (reopened if used again)."""
        self._http.close()


def _finished(message: str) -> LocalError:
    return LocalError(message, code="flow_finished")


def _held(holder: PKCE | CSRFState) -> str:
    """The PKCE verifier or the state a flow relies on; an error once its
    ``with`` block has ended (the values are gone)."""
    try:
        return holder.verifier if isinstance(holder, PKCE) else holder.state
    except LocalError as exc:
        raise _finished(
            f"the {type(holder).__name__} of this flow no longer holds its values "
            "(its with block has ended); the login must happen inside it"
        ) from exc


def _or_device(metadata: ProviderMetadata, form: str) -> str:
    """ ", or " and ``form`` around the running program's device login command,
    when the provider offers the device flow and the program has one."""
    from ._hints import device_command

    command = device_command()
    if command is None or not metadata.device_authorization_endpoint:
        return ""
    return ", or " + form.format(command)


def _warm_up(modules: tuple[str, ...]) -> None:
    """Import ``modules`` in the background; a failure is the real import's."""

    def load() -> None:
        import importlib

        for name in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    threading.Thread(target=load, name="oauthcli-warm-up", daemon=True).start()


def provider_metadata(
    http: HTTP, constants: OAuth2Constants, notify: Notify
) -> ProviderMetadata:
    """The provider's endpoints: the explicit ones, then discovery unless it is off.

    Without discovery only the constants' endpoints count. With it, they win
    over the document. A provider that publishes none is refused at once
    unless an authorization or token endpoint is configured: a 404 is far more
    often a typo in the issuer's path than a provider without metadata, and
    guessing its paths would only end in a wait for a login page that does
    not exist. With one configured, the Auth0 paths fill the gaps, which
    ``notify`` tells the user about.
    """
    c = constants
    if not c.discovery:
        log.info("discovery is off; using the configured endpoints of %s", c.issuer)
        return explicit_metadata(
            c.issuer, c.endpoint_overrides, need_jwks=c.wants_openid
        )
    metadata = discover(
        http, c.issuer, overrides=c.endpoint_overrides, need_jwks=c.wants_openid
    )
    if metadata.from_discovery:
        log.info("found the provider's metadata for %s", metadata.issuer)
        return metadata

    overrides = c.endpoint_overrides
    if not (overrides["authorization_endpoint"] or overrides["token_endpoint"]):
        raise ValidationError(
            f"{c.issuer} publishes no discovery document (nothing at "
            f"{well_known_urls(c.issuer)[0]}): check the issuer URL for a typo "
            "in its path; for a provider without discovery, set its "
            "authorization_endpoint and token_endpoint and discovery = false",
            code="invalid_metadata",
        )
    notify(
        f"oauthcli: warning: {c.issuer} publishes no discovery document; using "
        f"{metadata.authorization_endpoint} and {metadata.token_endpoint} "
        "(set discovery = false to skip looking for it)"
    )
    return metadata


def check_scopes(constants: OAuth2Constants, tokens: TokenSet) -> None:
    """Fail when a scope the caller marked required was not granted (C16)."""
    granted = set((tokens.scope or "").split())
    missing = [s for s in constants.required_scopes if s not in granted]
    if missing:
        raise ValidationError(
            "the provider did not grant the required scope(s): " + " ".join(missing),
            code="missing_scope",
        )


def check_id_token(
    http: HTTP,
    constants: OAuth2Constants,
    metadata: ProviderMetadata,
    tokens: TokenSet,
    nonce: str | None,
    jwks_cache: JWKSCache = JWKS,
    *,
    extra_params: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Validate the ID token of a token response (OIDC Core 3.1.3.7).

    ``extra_params`` are the extra parameters the authorization request
    sent (by default the constants'): a ``max_age`` there requires a recent
    enough ``auth_time``, an essential ``acr`` claim request its value.
    """
    sent = constants.extra_params if extra_params is None else extra_params
    if tokens.id_token is None:
        raise ValidationError(
            "the token response has no id_token although openid was requested",
            code="invalid_id_token",
        )
    jwks_uri = metadata.jwks_uri
    if jwks_uri is None:  # pragma: no cover - discovery requires it for openid
        raise ValidationError(
            "no jwks_uri to check the ID token", code="invalid_metadata"
        )
    return validate_id_token(
        tokens.id_token,
        issuer=metadata.issuer,
        client_id=constants.client_id,
        nonce=nonce,
        jwks=jwks_cache.source(
            metadata.issuer,
            jwks_uri,
            lambda uri: http.get_json(uri, what="JWKS endpoint"),
        ),
        access_token=tokens.access_token,
        client_secret=constants.client_secret,
        allowed_algs=metadata.id_token_signing_alg_values_supported,
        leeway=constants.leeway,
        now=time.time(),
        auth_max_age=_requested_max_age(sent),
        acr_values=_essential_acr(sent),
        extra_issuers=constants.id_token_issuers,
    )


def _requested_max_age(params: Mapping[str, str]) -> float | None:
    check_extra_params(params)  # whole seconds, as checked before the request
    value = params.get("max_age")
    return None if value is None else float(value)


def _essential_acr(params: Mapping[str, str]) -> tuple[str, ...] | None:
    """The ``acr`` values of an essential claim request (OIDC Core 5.5.1.1)."""
    import json

    raw = params.get("claims")
    if raw is None:
        return None
    try:
        request = json.loads(raw)
        acr = request["id_token"]["acr"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    if not isinstance(acr, dict) or acr.get("essential") is not True:
        return None
    values = acr.get("values") or ([acr["value"]] if "value" in acr else [])
    return tuple(str(v) for v in values) or None
