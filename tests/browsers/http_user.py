"""A scripted user with a plain HTTP client, for the BROWSER variable.

    python http_user.py URL

It opens URL on the local test provider, follows the provider's redirects one
at a time while they stay on the provider's origin, signs in on the dev login
form, and once a redirect leaves that origin (the app's loopback
``redirect_uri``) requests that URL once and exits 0. Failures exit 1 with a
short message on stderr; nothing secret is printed.

It also approves (or denies) a device authorization opened at
``verification_uri_complete``; that flow ends on a provider page, exit 0.

Environment:
    OAUTHCLI_TEST_LOGIN: the login name (the account's ``sub``), "alice".
    OAUTHCLI_TEST_DENY=1: cancel instead of signing in (``access_denied``).
    OAUTHCLI_TEST_REMOTE: a file; the browser is on another machine, so the
        final address is written there instead of being requested.
    OAUTHCLI_TEST_CALLBACK_LOG: a file; the callback's parameter names (never
        values; query, then form_post body) are appended as one line.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

MAX_STEPS = 25
TIMEOUT = 30.0


class UserError(Exception):
    """The provider or the app did something this user did not expect."""


@dataclass(frozen=True)
class Step:
    """The next request this user makes; built by the client for its cookies."""

    method: str
    url: str
    data: dict[str, str] | None = None
    # A denied device authorization ends on a provider page, not a redirect.
    ends_on_provider: bool = False


@dataclass
class Form:
    """One HTML form: where it posts and the values it would send."""

    action: str
    method: str
    hidden: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)


class Page(HTMLParser):
    """The parts of a provider page this user reads: forms, links, errors."""

    def __init__(self, url: str, html: str) -> None:
        super().__init__()
        self.url = url
        self.title = ""
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.errors: list[str] = []
        self._in: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            action = urljoin(self.url, values.get("action", "") or self.url)
            method = values.get("method", "get").lower()
            self.forms.append(Form(action=action, method=method))
        elif tag == "input" and self.forms and "name" in values:
            form = self.forms[-1]
            target = form.hidden if values.get("type") == "hidden" else form.inputs
            target[values["name"]] = values.get("value", "")
        elif tag == "a" and "href" in values:
            self.links.append(urljoin(self.url, values["href"]))
        elif tag in ("title", "pre"):
            self._in = tag
            if tag == "pre":
                self.errors.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data.strip()
        elif self._in == "pre":
            self.errors[-1] += data


def origin(url: str) -> tuple[str, str]:
    """Scheme and host:port, the way a browser compares origins."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def log_callback(step: Step) -> None:
    """Append the callback's parameter names to the test's log file."""
    path = os.environ.get("OAUTHCLI_TEST_CALLBACK_LOG")
    if not path:
        return
    names = [name for name, _ in parse_qsl(urlsplit(step.url).query, True)]
    names += list(step.data or {})
    with open(path, "a", encoding="utf-8") as log:
        log.write(" ".join(names) + "\n")


def page_error(page: Page) -> str:
    """``error`` and ``error_description`` from the provider's error page."""
    lines = (" ".join(text.split()) for text in page.errors)
    wanted = [
        line for line in lines if line.startswith(("error:", "error_description:"))
    ]
    return "; ".join(wanted) or f"page {page.title!r}"


def abort_link(page: Page) -> str:
    """The dev interaction's "[ Cancel ]" link, ``/interaction/UID/abort``."""
    for link in page.links:
        if urlsplit(link).path.endswith("/abort"):
            return link
    raise UserError(f"no cancel link on the page {page.title!r}")


def next_request(page: Page, deny: bool, login: str) -> Step:
    """What this user does on a provider page that is not a redirect."""
    for form in page.forms:
        if "login" in form.inputs:
            if deny:
                return Step("GET", abort_link(page))
            data = {**form.hidden, "login": login, "password": "any password"}
            return Step("POST", form.action, data)

        if form.hidden.get("prompt") == "consent":
            if deny:
                return Step("GET", abort_link(page))
            return Step("POST", form.action, form.hidden)

        if "confirm" in form.hidden:
            if deny:
                data = {**form.hidden, "abort": "yes"}
                return Step("POST", form.action, data, ends_on_provider=True)
            return Step("POST", form.action, form.hidden)

        if form.inputs.get("user_code"):
            data = {**form.hidden, "user_code": form.inputs["user_code"]}
            return Step("POST", form.action, data)

    raise UserError(f"nothing to submit on the page: {page_error(page)}")


def deliver(client: httpx.Client, step: Step) -> None:
    """Send the app its redirect, once; any HTTP answer counts as delivered.

    With OAUTHCLI_TEST_REMOTE=path the browser is "on another machine": the
    redirect cannot reach the app, and the address it ended on is written to
    that file instead, for the user to paste.
    """
    log_callback(step)
    remote = os.environ.get("OAUTHCLI_TEST_REMOTE")
    if remote:
        with open(remote, "w", encoding="utf-8") as ended_on:
            ended_on.write(step.url)
        return
    try:
        client.request(step.method, step.url, data=step.data).close()
    except httpx.HTTPError as exc:
        raise UserError(f"the app's redirect_uri did not answer: {exc!r}") from exc


def sign_in(url: str, deny: bool, login: str) -> None:
    """Walk the provider's pages from URL until the app gets its redirect."""
    provider = origin(url)
    step = Step("GET", url)
    ends_on_provider = False

    with httpx.Client(
        follow_redirects=False, trust_env=False, timeout=TIMEOUT
    ) as client:
        for _ in range(MAX_STEPS):
            if origin(step.url) != provider:
                deliver(client, step)
                return

            ends_on_provider = ends_on_provider or step.ends_on_provider
            response = client.request(step.method, step.url, data=step.data)
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                step = Step("GET", location)
                continue

            page = Page(str(response.url), response.text)
            if response.status_code == 200 and page.title == "Sign-in Success":
                return  # device flow approved; nothing to redirect
            if response.status_code == 200 and ends_on_provider:
                return  # device flow denied; the provider says so on a page
            if response.status_code != 200:
                status = response.status_code
                raise UserError(f"provider answered {status}: {page_error(page)}")

            # response_mode=form_post (the device flow uses it internally): a
            # form that a script submits on load, to the app or the provider.
            if page.title == "Submitting Callback" and page.forms:
                form = page.forms[0]
                step = Step("POST", form.action, form.hidden)
                continue

            step = next_request(page, deny, login)

    raise UserError(f"gave up after {MAX_STEPS} requests without reaching the app")


def main(argv: list[str]) -> int:
    """Run as ``python http_user.py URL``; 0 once the app got its redirect."""
    if len(argv) != 2:
        print("usage: http_user.py URL", file=sys.stderr)
        return 2

    deny = os.environ.get("OAUTHCLI_TEST_DENY") == "1"
    login = os.environ.get("OAUTHCLI_TEST_LOGIN", "alice")
    try:
        sign_in(argv[1], deny, login)
    except (UserError, httpx.HTTPError) as exc:
        print(f"http_user: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
