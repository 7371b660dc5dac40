"""Sign-in in a real browser against a real OpenID Connect provider started by the test.

``oidc-provider-mock`` serves discovery, authorization, token, JWKS and end-session
endpoints on a free localhost port; its ID tokens carry Keycloak-shaped realm roles
(``realm_access.roles``). The app runs as ``make run`` runs it, in shared mode, with a
temporary secrets file whose ``[auth]`` section points at that provider. Debian's
``/usr/bin/chromium`` drives it through Playwright (never a downloaded browser).

Shown, step by step (each step's time is logged; ``SIGNIN_TEST_LOG=path`` keeps the log):
no page, not even one asked for by its URL on the server's very first run, shows data
before sign-in; a reviewer's case page works and the cohort pages are neither listed nor
reachable by URL; a saved verdict carries the signed-in identity (read back from the
verdict store); signing out returns to the sign-in screen; an analyst sees the cohort page.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_marks import BROWSER_MARKS, saved_verdicts

from scripts.app_server import CHROMIUM, CHROMIUM_ARGS, STARTUP_S, serve

WAIT_MS = 60_000
REVIEWER, ANALYST = "rita@hospital.example", "ana@hospital.example"

pytestmark = BROWSER_MARKS


class StepLog:
    """What the test did, one line per step with the seconds since the start."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.lines: list[str] = []

    def __call__(self, what: str) -> None:
        self.lines.append(f"{time.monotonic() - self.start:6.1f} s  {what}")

    def text(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        head = f"tests/test_browser_auth.py, {when}: seconds since the app was serving\n"
        return head + "\n".join(self.lines) + "\n"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The OIDC provider's base URL; its two users carry realm roles as Keycloak sends them."""
    from oidc_provider_mock import User, run_server_in_thread

    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")  # plain http on localhost only
    users = [
        User(sub="rita", claims={"email": REVIEWER, "realm_access": {"roles": ["reviewer"]}}),
        User(sub="ana", claims={"email": ANALYST, "realm_access": {"roles": ["analyst"]}}),
    ]
    with run_server_in_thread(port=0, user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def shared_app(provider: str, tiny_bundle: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The app in shared mode (its URL, its data folder), stopped after the test."""
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "imaging-review"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    data = tmp_path / "data"
    env = {
        "REVIEW_AUTH": "oidc",
        "REVIEW_ROLE_CLAIM": "realm_access.roles",
        "REVIEW_BUNDLE": str(tiny_bundle),
        "REVIEW_DATA_DIR": str(data),
        "STREAMLIT_SECRETS_FILES": str(secrets_file),
        "AUTHLIB_INSECURE_TRANSPORT": "1",
    }
    with serve(env, tmp_path / "streamlit.log") as url:
        yield url, data


def _sign_in(page, url: str, who: str) -> None:
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=who, exact=True).click(timeout=WAIT_MS)  # the provider's form
    page.wait_for_url(f"{url}/**", timeout=WAIT_MS)
    page.get_by_text("Signed in as", exact=False).wait_for(timeout=WAIT_MS)


def _dismiss_page_not_found(page) -> None:
    """Streamlit's answer to a URL of a page the session's navigation does not list."""
    page.get_by_text("Page not found").wait_for(timeout=WAIT_MS)
    page.keyboard.press("Escape")
    page.get_by_text("Page not found").wait_for(state="hidden", timeout=WAIT_MS)


def _assert_sign_in_screen(page) -> None:
    """Only the sign-in screen: no sidebar, no bundle panel, no case input, no page list."""
    page.get_by_role("button", name="Sign in").wait_for(timeout=WAIT_MS)
    body = page.inner_text("body")
    for absent in ("Model bundle", "Upload", "Sample case", "Cohort analysis", "Detection"):
        assert absent not in body, absent
    assert page.locator("[data-testid=stSidebar]").count() == 0
    assert page.locator("[data-testid=stSidebarNav]").count() == 0


def test_sign_in_roles_verdict_identity_and_sign_out(
    shared_app: tuple[str, Path], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, data = shared_app
    log = StepLog()
    log("app serving in shared mode (REVIEW_AUTH=oidc), OIDC provider on localhost")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{url}/cohort", timeout=STARTUP_S * 1000)  # the server's first run
            _dismiss_page_not_found(page)
            _assert_sign_in_screen(page)
            log(
                "first run of the server, at /cohort: 'Page not found', sign-in screen only, no data"
            )

            _sign_in(page, url, "rita")
            assert "Signed in as rita@hospital.example · reviewer" in page.inner_text("body")
            nav = page.locator("[data-testid=stSidebarNav]").inner_text()
            assert "Case review" in nav and "Film review" in nav
            assert "Cohort analysis" not in nav and "Detection errors" not in nav
            log("signed in at the provider as rita (reviewer): case pages listed, no cohort page")

            page.goto(f"{url}/cohort")
            _dismiss_page_not_found(page)
            page.get_by_text("Signed in as", exact=False).wait_for(timeout=WAIT_MS)
            page.get_by_role("radio", name="Sample case").wait_for(timeout=WAIT_MS)
            assert "Labelled cohort folder" not in page.inner_text("body")
            log("rita opens /cohort by URL: 'Page not found', the case page is shown instead")

            page.get_by_role("link", name="Case review").click()
            page.get_by_text("Sample case", exact=True).click()
            form = page.get_by_test_id("stForm")
            form.get_by_text("agree", exact=True).first.click(timeout=WAIT_MS)
            form.get_by_role("button", name="Save verdicts").click()
            page.get_by_text("Saved 1 verdict(s).").wait_for(timeout=WAIT_MS)
            log("rita opens a sample case and saves a verdict (no reviewer box on the form)")

            page.get_by_role("button", name="Sign out").click()
            page.get_by_role("button", name="End session").click(timeout=WAIT_MS)  # provider
            page.wait_for_url(f"{url}/**", timeout=WAIT_MS)
            _assert_sign_in_screen(page)
            log("sign out: provider's end-session page, then back to the sign-in screen")

            _sign_in(page, url, "ana")
            assert "Signed in as ana@hospital.example · analyst" in page.inner_text("body")
            nav = page.locator("[data-testid=stSidebarNav]").inner_text()
            assert "Cohort analysis" in nav and "Detection errors" in nav
            page.get_by_role("link", name="Cohort analysis").click()
            page.get_by_text("Labelled cohort folder", exact=False).wait_for(timeout=WAIT_MS)
            log("signed in as ana (analyst): cohort pages listed, the cohort page opens")
        except Exception:
            page.screenshot(path=str(tmp_path / "failed.png"), full_page=True)
            raise
        finally:
            browser.close()
    saved = saved_verdicts(data)
    assert len(saved) == 1 and saved.iloc[0]["reviewer"] == REVIEWER
    log(f"verdict store: 1 verdict, reviewer {saved.iloc[0]['reviewer']!r} (the sign-in's email)")
    (tmp_path / "signin_test_log.txt").write_text(log.text())
    if target := os.environ.get("SIGNIN_TEST_LOG"):
        shutil.copyfile(tmp_path / "signin_test_log.txt", target)
