"""Sign-in on every page, the signed-in user in the sidebar, and permission checks.

:func:`gate` runs first in ``app.py``, before any page, panel or data: in shared mode a
session that is not signed in sees a sign-in screen and nothing else; a signed-in user
without a role, or a deployment whose sign-in is misconfigured, sees a message and nothing
else. Roles and names come from :mod:`core.auth`.

:func:`principal` is recomputed on every call from ``st.user`` (Streamlit's signed identity
cookie) or, in single-user mode, from the name typed in the sidebar, so it cannot go stale,
and in shared mode nothing a session holds in its state can change who is acting. Actions check
:func:`require` themselves as well as being hidden (defence in depth): navigation leaves
out the pages a role may not open, and a save or change refuses when the role lacks it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import streamlit as st

from core.auth import (
    AuthConfigError,
    Mode,
    Permission,
    Principal,
    auth_mode,
    is_loopback,
    page_permission,
    signed_in_principal,
    single_user_principal,
)
from ui.text import plain

__all__ = ["NAME_KEY", "acting_name", "gate", "may", "page_guard", "principal", "require"]

log = logging.getLogger(__name__)

#: Session key of the single user's typed name (not a widget key: Streamlit forgets a
#: widget's value on runs that do not draw it).
NAME_KEY = "auth_name"
_NAME_BOX = "auth_name_box"
_LOGGED = "auth_logged_as"


def _auth_section() -> Mapping[str, Any] | None:
    """The ``[auth]`` section of Streamlit's secrets (None when there is none)."""
    if not st.secrets.load_if_toml_exists():
        return None
    section = st.secrets.get("auth")
    return section.to_dict() if section is not None else None


def _mode() -> Mode:
    return auth_mode(os.environ, _auth_section())


def principal() -> Principal | None:
    """Who is acting in this session, or None: not signed in, sign-in misconfigured, or a
    single-user app that listens beyond this machine."""
    try:
        if _mode() is Mode.SINGLE_USER:
            if _local_only_problem():
                return None
            return single_user_principal(str(st.session_state.get(NAME_KEY, "")))
        if not st.user.is_logged_in:
            return None
        return signed_in_principal(st.user.to_dict(), os.environ)
    except AuthConfigError:
        return None


def may(permission: Permission) -> bool:
    """Whether this session may do ``permission`` (silently: to offer an action or not)."""
    who = principal()
    return who is not None and who.can(permission)


def require(permission: Permission) -> bool:
    """Whether this session may do ``permission``; when not, say so on the page."""
    if may(permission):
        return True
    who = principal()
    role = "no role" if who is None or who.role is None else f"the {who.role.name.lower()} role"
    log.warning("refused %r to a session with %s", str(permission), role)
    st.error(f"You may not {permission} with {role}.", icon=":material/lock:")
    return False


def acting_name(permission: Permission, recorded_as: str) -> str | None:
    """The name to record (as ``recorded_as``: reviewer, author) on an action that takes
    ``permission``; None, said on the page, when the role lacks it or no name is known yet."""
    if not require(permission):
        return None
    who = principal()
    if who is None or not who.name:
        st.warning(
            f"Not saved: type your name in the sidebar first (it is recorded as the {recorded_as})."
        )
        return None
    return who.name


def _refuse(message: str | None, *, sign_out: bool) -> NoReturn:
    """Show a screen that holds no data instead of the app, and end this run.

    ``message`` None is the sign-in screen. The screen is the one page of a hidden
    ``st.navigation``: calling it switches off Streamlit's ``pages/`` directory fallback,
    which otherwise lists (and serves by URL) every page script while no run has called
    ``st.navigation`` yet."""

    def screen() -> None:
        st.title("Imaging AI review")
        if message is None:
            st.markdown("Sign in with your hospital account to review cases.")
            st.button("Sign in", type="primary", on_click=st.login, key="auth_sign_in")
            return
        st.error(message, icon=":material/lock:")
        if sign_out:
            st.button("Sign out", on_click=st.logout, key="auth_sign_out")

    st.navigation([st.Page(screen, title="Sign in", url_path="sign-in")], position="hidden").run()
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover


def _local_only_problem() -> str | None:
    """Why single-user mode may not serve here (None when it may): without sign-in the app
    must listen on this machine only."""
    address = st.get_option("server.address")
    if not st.runtime.exists() or is_loopback(address):
        return None
    return (
        f"Without sign-in this app serves only this machine, but it listens on "
        f"{address or 'every interface'}. Bind 127.0.0.1 (make run does) or configure "
        "sign-in (README, Sign-in)."
    )


def _single_user_sidebar() -> Principal:
    """One name field per session: what verdicts, threshold sets and the audit trail record,
    marked "not signed in"."""
    if _NAME_BOX not in st.session_state:
        st.session_state[_NAME_BOX] = st.session_state.get(NAME_KEY, "")
    typed = st.sidebar.text_input(
        "Your name",
        key=_NAME_BOX,
        max_chars=120,
        help="Recorded on your verdicts, threshold sets and the audit trail, marked "
        '"not signed in": this is a single-user app on this machine, without sign-in.',
    )
    st.session_state[NAME_KEY] = typed.strip()
    return single_user_principal(typed)


def gate() -> Principal:
    """Let this run go on only for someone who may use the app; returns who that is.

    Everything else ends the run here (``st.stop``) with a screen that holds no data."""
    try:
        mode = _mode()
    except AuthConfigError as err:
        log.error("sign-in is misconfigured: %s", err)
        _refuse(f"Sign-in is misconfigured: {plain(err)}. Ask the administrator.", sign_out=False)
    if mode is Mode.SINGLE_USER:
        if problem := _local_only_problem():
            _refuse(problem, sign_out=False)
        return _single_user_sidebar()
    if not st.user.is_logged_in:
        _refuse(None, sign_out=False)
    try:
        who = signed_in_principal(st.user.to_dict(), os.environ)
    except AuthConfigError as err:
        log.error("a signed-in identity cannot be used: %s", err)
        _refuse(f"Your sign-in cannot be used here: {plain(err)}.", sign_out=True)
    if st.session_state.get(_LOGGED) != who:
        log.info("session signed in as %s with role %s", who.name, who.role)
        st.session_state[_LOGGED] = who
    if who.role is None:
        _refuse(
            f"You are signed in as {plain(who.name)}, but your account has no role in this "
            "app (reviewer, analyst or admin). Ask the administrator for one.",
            sign_out=True,
        )
    st.sidebar.caption(f"Signed in as {plain(who.name)} · {who.role.name.lower()}")
    st.sidebar.button("Sign out", on_click=st.logout, key="auth_sign_out")
    return who


def page_guard(script: str) -> None:
    """The first call of every page script: stop unless this session may open it.

    ``app.py`` already leaves such pages out of navigation; this covers the one run that
    bypasses it: on a fresh server, Streamlit's first run serves a page URL straight from
    the ``pages/`` directory, without ``app.py`` (so without :func:`gate`). Such a run
    gets the sign-in screen (or a refusal), and its navigation call ends that fallback."""
    if may(page_permission(f"pages/{Path(script).name}")):
        return
    log.warning("refused page %s to a session that may not open it", Path(script).name)
    try:
        signed_out = _mode() is Mode.OIDC and not st.user.is_logged_in
    except AuthConfigError:
        signed_out = False
    _refuse(None if signed_out else "This page is not open to you.", sign_out=False)
