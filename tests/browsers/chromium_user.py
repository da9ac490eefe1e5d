"""A scripted user in a real headless Chromium, for the BROWSER variable.

    python chromium_user.py URL

Drives Debian's chromium through /usr/bin/chromedriver (Selenium never
downloads a driver or a browser). It opens URL on the local test provider,
signs in on the dev login form and waits until the browser is on the app's
loopback redirect URI (an origin other than the provider's), then quits and
exits 0. On failure it exits 1, after saving a screenshot to
OAUTHCLI_TEST_SCREENSHOT if that is set.

All of Chromium's traffic stays on loopback: every host name but localhost
fails to resolve, and anything that would leave goes to a dead proxy.

Environment:
    OAUTHCLI_TEST_LOGIN: the login name (the account's ``sub``), "alice".
    OAUTHCLI_TEST_DENY=1: press "Cancel" instead of signing in.
    OAUTHCLI_TEST_SCREENSHOT: where to save a PNG when something fails.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMEDRIVER = "/usr/bin/chromedriver"
# /usr/bin/chromium is Debian's wrapper script; the binary is under /usr/lib.
CHROMIUM_BINARIES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
TIMEOUT = 30.0

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--password-store=basic",
    "--disable-features=PasswordLeakDetection,OptimizationHints,Translate",
    # Anything that still tries to leave the machine meets a closed port.
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1;localhost;[::1]",
    # IP literals go through the rules too; "::1" is written without brackets.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1,"
    " EXCLUDE ::1",
)


class UserError(Exception):
    """The provider or the app did something this user did not expect."""


def origin(url: str) -> tuple[str, str]:
    """Scheme and host:port, the way a browser compares origins."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def chromium_binary() -> str:
    """The first Debian chromium binary that exists."""
    for path in CHROMIUM_BINARIES:
        if Path(path).exists():
            return path
    raise UserError(f"no chromium at {' or '.join(CHROMIUM_BINARIES)}")


def start_browser(profile: str) -> webdriver.Chrome:
    """A headless Chromium with a fresh profile, confined to loopback."""
    options = Options()
    options.binary_location = chromium_binary()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    return driver


def page_text(driver: webdriver.Chrome) -> str:
    """The visible text of the page on one line (an error page's fields)."""
    text = driver.find_element(By.TAG_NAME, "body").text
    return " ".join(text.split())[:300]


def sign_in(driver: webdriver.Chrome, url: str, deny: bool, login: str) -> None:
    """Open URL, sign in (or cancel), wait for the app's redirect URI."""
    provider = origin(url)
    driver.get(url)

    if origin(driver.current_url) == provider:
        if not driver.find_elements(By.NAME, "login"):
            raise UserError(
                f"no login form on the provider's page: {page_text(driver)}"
            )
        if deny:
            driver.find_element(By.CSS_SELECTOR, "a[href$='/abort']").click()
        else:
            driver.find_element(By.NAME, "login").send_keys(login)
            driver.find_element(By.NAME, "password").send_keys("any password")
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def left_provider(driver: webdriver.Chrome) -> bool:
        return origin(driver.current_url) != provider

    try:
        WebDriverWait(driver, TIMEOUT, poll_frequency=0.05).until(left_provider)
    except WebDriverException as exc:
        title = driver.title
        raise UserError(f"still on the provider after {TIMEOUT} s: {title!r}") from exc

    # A failed load keeps the URL in current_url; the document says otherwise.
    if str(driver.execute_script("return document.URL")).startswith("chrome-error:"):
        code = driver.execute_script(
            "return document.querySelector('.error-code')?.textContent"
        )
        raise UserError(f"the app's redirect_uri did not load: {code}")


def describe(exc: Exception) -> str:
    """One line about a failure, without chromedriver's stack trace."""
    if isinstance(exc, WebDriverException):
        return (exc.msg or type(exc).__name__).splitlines()[0]
    return str(exc)


def screenshot(driver: webdriver.Chrome) -> None:
    """Save what the browser shows, if the test asked for it."""
    path = os.environ.get("OAUTHCLI_TEST_SCREENSHOT")
    if path:
        try:
            driver.save_screenshot(path)
        except WebDriverException as exc:
            print(f"chromium_user: no screenshot: {exc.msg}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """Run as ``python chromium_user.py URL``; 0 once the app got its redirect."""
    if len(argv) != 2:
        print("usage: chromium_user.py URL", file=sys.stderr)
        return 2

    # A killed user must still quit Chromium: SIGTERM unwinds through finally.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(1))
    # Belt and braces: Selenium Manager must not look for drivers online.
    os.environ["SE_OFFLINE"] = "true"
    deny = os.environ.get("OAUTHCLI_TEST_DENY") == "1"
    login = os.environ.get("OAUTHCLI_TEST_LOGIN", "alice")

    with tempfile.TemporaryDirectory(
        prefix="oauthcli-chromium-", ignore_cleanup_errors=True
    ) as profile:
        try:
            driver = start_browser(profile)
        except (UserError, WebDriverException) as exc:
            print(
                f"chromium_user: cannot start chromium: {describe(exc)}",
                file=sys.stderr,
            )
            return 1
        try:
            sign_in(driver, argv[1], deny, login)
        except (UserError, WebDriverException) as exc:
            screenshot(driver)
            print(f"chromium_user: {describe(exc)}", file=sys.stderr)
            return 1
        finally:
            driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
