"""Sign-in and roles through AppTest: what each role's session sees and may do.

``AppTest.user`` presents an identity as ``st.user`` does after a real sign-in (Streamlit
1.67); the ``[auth]`` secrets section is patched in, since AppTest's own secrets do not
reach it. See SIDEBAR_NOTE in test_app_case.py: app.py (sign-in, navigation, sidebar) runs
only on a session's first run, so every identity is set before that run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import AUTH_ENV, ROLE_CLAIM_ENV

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-test-secret-of-enough-bytes",
    "client_id": "imaging-review",
    "client_secret": "client-secret",
    "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration",
}
CASE_PAGES = {"pages/case_review.py", "pages/chest_case.py"}
COHORT_PAGES = {"pages/cohort.py", "pages/chest_cohort.py"}


@pytest.fixture
def shared(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Shared mode: an [auth] section, Keycloak's realm roles as the role claim."""
    import ui.auth

    monkeypatch.setattr(ui.auth, "_auth_section", lambda: AUTH)
    monkeypatch.setenv(ROLE_CLAIM_ENV, "realm_access.roles")
    return app_env


def signed_in(roles: list[str] | None, email: str = "rita@hospital.example") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    claims: dict = {"is_logged_in": True, "email": email, "sub": "u-1"}
    if roles is not None:
        claims["realm_access"] = {"roles": roles}
    at.user = claims
    return at.run()


def pages(at: AppTest) -> set[str]:
    """The page scripts navigation offers this session."""
    root = Path(APP).parent
    return {
        str(Path(info["script_path"]).resolve().relative_to(root))
        for info in at._registered_pages.values()
        if info.get("script_path")
    }


def texts(elements: object) -> str:
    return "\n".join(str(e.value) for e in elements)  # type: ignore[attr-defined]


def assert_no_data(at: AppTest) -> None:
    """Nothing of the app: no sidebar panel, no inputs, no sample cases, no tables."""
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.sidebar) == 0
    assert "Model bundle" not in texts(at.subheader)
    for kind in ("text_input", "selectbox", "radio", "dataframe", "file_uploader"):
        assert len(at.get(kind)) == 0, kind
    assert pages(at) == set()


def test_before_sign_in_there_is_only_a_sign_in_screen(shared: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.user = {"is_logged_in": False}
    at.run()
    assert_no_data(at)
    assert [b.label for b in at.button] == ["Sign in"]


@pytest.mark.parametrize(
    ("env", "section", "reason"),
    [
        ({AUTH_ENV: "oidc"}, None, "secrets.toml has no"),
        ({}, {**AUTH, "client_secret": ""}, "lacks client"),
        ({AUTH_ENV: "sso"}, None, "not one of"),
    ],
)
def test_a_misconfigured_sign_in_shows_why_and_no_data(
    app_env: Path, monkeypatch: pytest.MonkeyPatch, env: dict, section, reason: str
) -> None:
    import ui.auth

    monkeypatch.setattr(ui.auth, "_auth_section", lambda: section)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.user = {"is_logged_in": True, "email": "x@y", "realm_access": {"roles": ["admin"]}}
    at.run()
    assert_no_data(at)
    assert "Sign-in is misconfigured" in texts(at.error) and reason in texts(at.error)
    assert len(at.button) == 0


def test_signed_in_without_a_role_sees_a_message_and_no_data(shared: Path) -> None:
    at = signed_in(["offline_access"])
    assert_no_data(at)
    assert "no role in this app" in texts(at.error)
    assert "rita@hospital.example" in texts(at.error)
    assert [b.label for b in at.button] == ["Sign out"]


def test_a_reviewer_reviews_cases_but_opens_no_cohort_and_changes_no_bundle(
    shared: Path,
) -> None:
    at = signed_in(["reviewer"])
    assert not at.exception, [e.value for e in at.exception]
    assert pages(at) == CASE_PAGES
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/cohort.py")  # not registered: no URL reaches it
    sidebar = texts(at.sidebar.caption)
    assert "Signed in as rita@hospital.example · reviewer" in sidebar
    assert "set by an administrator" in sidebar
    assert "bundle_dir" not in {t.key for t in at.text_input}  # no folder box to type into
    assert "Your name" not in {t.label for t in at.text_input}  # the name is the sign-in's
    assert "Download the audit trail (CSV)" not in {b.label for b in at.get("download_button")}
    assert "Upload a patient's eight views" in texts(at.info)  # the case page itself works


def test_an_analyst_opens_cohorts_and_an_admin_also_changes_bundles(shared: Path) -> None:
    analyst = signed_in(["analyst"])
    assert not analyst.exception
    assert pages(analyst) == CASE_PAGES | COHORT_PAGES
    assert "bundle_dir" not in {t.key for t in analyst.text_input}
    admin = signed_in(["admin", "reviewer"], email="ada@hospital.example")
    assert not admin.exception
    assert pages(admin) == CASE_PAGES | COHORT_PAGES
    assert "Signed in as ada@hospital.example · admin" in texts(admin.sidebar.caption)
    assert admin.text_input(key="bundle_dir").value == str(shared)
    assert [b.label for b in admin.get("download_button")] == ["Download the audit trail (CSV)"]


def test_the_single_user_types_a_name_once_in_the_sidebar(app_env: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert pages(at) == CASE_PAGES | COHORT_PAGES  # every page, as before sign-in existed
    assert [t.label for t in at.sidebar.text_input] == ["Your name", "Bundle directory"]
    assert "Sign out" not in {b.label for b in at.button}


def _save_threshold_set_script() -> None:
    """A cohort page's save form, run by whoever AppTest presents (defence in depth: the
    form refuses by itself, whatever navigation showed)."""
    import os
    from pathlib import Path

    from core.models.manifest import read_manifest
    from ui.threshold_form import save_form

    folder = Path(os.environ["AUTH_TEST_BUNDLE"])
    save_form(folder, read_manifest(folder).thresholds, "t", "x")


@pytest.mark.parametrize(("roles", "saved"), [(["reviewer"], False), (["analyst"], True)])
def test_saving_a_threshold_set_checks_the_role_itself(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, roles: list[str], saved: bool
) -> None:
    from core.models.threshold_sets import load_threshold_set, saved_threshold_sets

    bundle = Path(shutil.copytree(shared, tmp_path / "bundle"))  # the shared one stays as it is
    monkeypatch.setenv("AUTH_TEST_BUNDLE", str(bundle))
    at = AppTest.from_function(_save_threshold_set_script, default_timeout=TIMEOUT)
    at.user = {
        "is_logged_in": True,
        "email": "rita@hospital.example",
        "realm_access": {"roles": roles},
    }
    at.run()
    at.text_input(key="t_save_name").input("mine")
    at.button(key="FormSubmitter:t_save-Save threshold set").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert ("mine" in saved_threshold_sets(bundle)) is saved, texts(at.error) + texts(at.warning)
    if saved:
        assert load_threshold_set(bundle, "mine").author == "rita@hospital.example"
    else:
        assert "You may not save threshold sets with the reviewer role" in texts(at.error)


def test_the_single_user_saves_under_the_typed_name_marked_not_signed_in(
    app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.models.threshold_sets import load_threshold_set, saved_threshold_sets
    from ui.auth import NAME_KEY

    bundle = Path(shutil.copytree(app_env, tmp_path / "bundle"))
    monkeypatch.setenv("AUTH_TEST_BUNDLE", str(bundle))
    at = AppTest.from_function(_save_threshold_set_script, default_timeout=TIMEOUT).run()
    at.text_input(key="t_save_name").input("first")
    at.button(key="FormSubmitter:t_save-Save threshold set").click().run()
    assert "type your name in the sidebar first" in texts(at.warning)
    assert "first" not in saved_threshold_sets(bundle)  # no name yet: nothing saved
    at.session_state[NAME_KEY] = "Ana"  # what the sidebar field keeps
    at.button(key="FormSubmitter:t_save-Save threshold set").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert load_threshold_set(bundle, "first").author == "Ana (not signed in)"


def test_without_sign_in_a_server_listening_beyond_this_machine_serves_nothing(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st

    real = st.get_option
    monkeypatch.setattr(st.runtime, "exists", lambda: True)  # as under `streamlit run`
    monkeypatch.setattr(
        st, "get_option", lambda key: "0.0.0.0" if key == "server.address" else real(key)
    )
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert_no_data(at)
    assert "listens on 0.0.0.0" in texts(at.error) and "Bind 127.0.0.1" in texts(at.error)
