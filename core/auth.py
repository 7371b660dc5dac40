"""Who is acting and what they may do: sign-in mode, roles from token claims, permissions.

The app runs in one of two modes (:func:`auth_mode`):

* **single user** (the default): no sign-in, the server listens on ``127.0.0.1`` only, and
  the one user holds every permission. Their name is typed once per session and recorded
  with :data:`NOT_SIGNED_IN` beside it, so nobody mistakes it for a verified identity.
* **shared** (``REVIEW_AUTH=oidc``, or an ``[auth]`` section in ``.streamlit/secrets.toml``):
  sign-in through Streamlit's own ``st.login`` (OIDC) is required on every page, and what a
  user may do comes from the roles in their identity token. A shared mode asked for but not
  fully configured is an :class:`AuthConfigError`: the app shows it and no data (fail closed).

Roles form a hierarchy (reviewer < analyst < admin); a user holds their highest role.
Which claim carries the roles is the operator's choice (``REVIEW_ROLE_CLAIM``, a dotted
path, e.g. Keycloak's ``realm_access.roles`` or Entra ID's ``roles``), because every
identity provider puts them somewhere else. Role names the app does not know are ignored:
a token never grants more than the three roles below.

Pure logic, no Streamlit: ``ui/auth.py`` is the glue that reads ``st.user`` and draws the
sign-in screen.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from core.verdicts.audit import NOT_SIGNED_IN

__all__ = [
    "AUTH_ENV",
    "NOT_SIGNED_IN",
    "REQUIRED_AUTH_KEYS",
    "ROLE_CLAIM_ENV",
    "USER_CLAIM_ENV",
    "AuthConfigError",
    "Mode",
    "Permission",
    "Principal",
    "Role",
    "auth_mode",
    "claim_at",
    "identity_name",
    "is_loopback",
    "page_permission",
    "roles_from_claims",
    "signed_in_principal",
    "single_user_principal",
]

log = logging.getLogger(__name__)

#: ``none`` (single user) or ``oidc`` (shared, sign-in required); unset: ``oidc`` exactly
#: when ``[auth]`` is configured.
AUTH_ENV = "REVIEW_AUTH"
#: Dotted path of the claim that carries the roles (default :data:`DEFAULT_ROLE_CLAIM`).
ROLE_CLAIM_ENV = "REVIEW_ROLE_CLAIM"
#: The claim that names the user on verdicts, threshold sets and the audit trail; unset:
#: the first of :data:`NAME_CLAIMS` the token has.
USER_CLAIM_ENV = "REVIEW_USER_CLAIM"
DEFAULT_ROLE_CLAIM = "roles"
#: Stable, human-readable claims first; ``sub`` (stable, opaque) is the last resort.
NAME_CLAIMS: tuple[str, ...] = ("email", "preferred_username", "upn", "sub")
#: What Streamlit's ``st.login`` needs in ``[auth]`` for its default provider.
REQUIRED_AUTH_KEYS: tuple[str, ...] = (
    "redirect_uri",
    "cookie_secret",
    "client_id",
    "client_secret",
    "server_metadata_url",
)
_MAX_NAME = 200
_SPLIT = re.compile(r"[\s,]+")


class AuthConfigError(ValueError):
    """Shared mode was asked for but cannot work as configured; the message says why."""


class Mode(StrEnum):
    SINGLE_USER = "none"
    OIDC = "oidc"


class Role(IntEnum):
    """Ordered: a higher role holds every permission of the lower ones."""

    REVIEWER = 1
    ANALYST = 2
    ADMIN = 3


class Permission(StrEnum):
    REVIEW_CASES = "review cases"
    SAVE_VERDICTS = "save verdicts"
    OPEN_COHORTS = "open cohorts"
    SAVE_THRESHOLD_SETS = "save threshold sets"
    CHANGE_BUNDLES = "change bundles"
    EXPORT_AUDIT = "export the audit trail"
    #: A page no rule below names: admins only, so a new page is closed until it is listed.
    OPEN_UNLISTED_PAGE = "open this page"


#: The lowest role that holds each permission.
NEEDS: dict[Permission, Role] = {
    Permission.REVIEW_CASES: Role.REVIEWER,
    Permission.SAVE_VERDICTS: Role.REVIEWER,
    Permission.OPEN_COHORTS: Role.ANALYST,
    Permission.SAVE_THRESHOLD_SETS: Role.ANALYST,
    Permission.CHANGE_BUNDLES: Role.ADMIN,
    Permission.EXPORT_AUDIT: Role.ADMIN,
    Permission.OPEN_UNLISTED_PAGE: Role.ADMIN,
}

#: What opening each page takes (paths as the studies declare them).
PAGE_PERMISSIONS: dict[str, Permission] = {
    "pages/case_review.py": Permission.REVIEW_CASES,
    "pages/chest_case.py": Permission.REVIEW_CASES,
    "pages/cohort.py": Permission.OPEN_COHORTS,
    "pages/chest_cohort.py": Permission.OPEN_COHORTS,
    # Reviewers pick studies from the PACS worklist; its endpoint list is the operator's
    # file (pacs.toml), which the app only reads: admins change it there.
    "pages/pacs_worklist.py": Permission.REVIEW_CASES,
}


def page_permission(path: str) -> Permission:
    """What opening the page at ``path`` takes; an unlisted page is admin-only."""
    return PAGE_PERMISSIONS.get(path, Permission.OPEN_UNLISTED_PAGE)


@dataclass(frozen=True)
class Principal:
    """Who is acting: the name recorded on their work, their role, and how we know them.

    ``name`` is empty only for a single user who has not typed one yet; :attr:`actor` is
    then :data:`NOT_SIGNED_IN`. A signed-in user without any known role has ``role`` None
    and may do nothing."""

    name: str
    role: Role | None
    signed_in: bool

    def can(self, permission: Permission) -> bool:
        return self.role is not None and self.role >= NEEDS[permission]

    @property
    def actor(self) -> str:
        """The audit trail's actor: the name, else :data:`NOT_SIGNED_IN`."""
        return self.name or NOT_SIGNED_IN


def single_user_principal(typed: str) -> Principal:
    """The single user: every permission; ``typed`` recorded as ``"<name> (not signed in)"``.

    The mark travels with the name into verdicts, threshold sets and the audit trail, so a
    typed name is never read later as a verified identity."""
    name = " ".join(typed.split())[: _MAX_NAME - len(NOT_SIGNED_IN) - 3]
    return Principal(f"{name} ({NOT_SIGNED_IN})" if name else "", Role.ADMIN, signed_in=False)


def signed_in_principal(claims: Mapping[str, Any], env: Mapping[str, str]) -> Principal:
    """The signed-in user of an identity token's ``claims``, with the configured claims.

    Raises :class:`AuthConfigError` when the token has no usable name claim (nothing could
    be recorded as the actor)."""
    role_claim = env.get(ROLE_CLAIM_ENV, "").strip() or DEFAULT_ROLE_CLAIM
    roles = roles_from_claims(claims, role_claim)
    return Principal(
        identity_name(claims, env.get(USER_CLAIM_ENV, "").strip() or None),
        max(roles) if roles else None,
        signed_in=True,
    )


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (``realm_access.roles``), or None where any step is
    missing. A claim whose own name holds a dot (``https://example.org/roles``) is matched
    whole first."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def roles_from_claims(claims: Mapping[str, Any], path: str) -> frozenset[Role]:
    """The app roles named at ``path``: a list of names, or one string of names separated
    by spaces or commas. Matching ignores case; unknown names and non-strings are ignored."""
    raw = claim_at(claims, path)
    if isinstance(raw, str):
        names: Iterable[Any] = _SPLIT.split(raw)
    elif isinstance(raw, list | tuple):
        names = raw
    else:
        if raw is not None:
            log.warning("role claim %r is a %s, not a list or string", path, type(raw).__name__)
        return frozenset()
    known = {r.name.lower(): r for r in Role}
    found = {
        known[n.strip().lower()] for n in names if isinstance(n, str) and n.strip().lower() in known
    }
    return frozenset(found)


def identity_name(claims: Mapping[str, Any], claim: str | None = None) -> str:
    """The name recorded for this identity: ``claim`` when configured, else the first of
    :data:`NAME_CLAIMS` present. Raises :class:`AuthConfigError` when there is none."""
    for key in (claim,) if claim else NAME_CLAIMS:
        value = claim_at(claims, key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:_MAX_NAME]
    wanted = claim or " / ".join(NAME_CLAIMS)
    raise AuthConfigError(f"the identity token has no {wanted} claim to name the user by")


def auth_mode(env: Mapping[str, str], auth_section: Mapping[str, Any] | None) -> Mode:
    """Single user or shared, from ``REVIEW_AUTH`` and the ``[auth]`` secrets section.

    Raises :class:`AuthConfigError` for an unknown ``REVIEW_AUTH`` value or a shared mode
    whose ``[auth]`` section lacks a key ``st.login`` needs, so a half-configured
    deployment never falls back to the open single-user mode."""
    asked = env.get(AUTH_ENV, "").strip().lower()
    if asked not in ("", *Mode):
        raise AuthConfigError(f"{AUTH_ENV}={asked!r} is not one of: none, oidc")
    if asked == Mode.SINGLE_USER:
        return Mode.SINGLE_USER
    if not auth_section:
        if asked == Mode.OIDC:
            raise AuthConfigError(
                f"{AUTH_ENV}=oidc, but .streamlit/secrets.toml has no [auth] section"
            )
        return Mode.SINGLE_USER
    missing = [k for k in REQUIRED_AUTH_KEYS if not str(auth_section.get(k) or "").strip()]
    if missing:
        raise AuthConfigError(f"the [auth] section lacks {', '.join(missing)}")
    if not str(auth_section["redirect_uri"]).rstrip("/").endswith("/oauth2callback"):
        raise AuthConfigError("[auth] redirect_uri must end with /oauth2callback")
    return Mode.OIDC


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to ``address`` is reachable from this machine only (an
    unset address means every interface)."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name other than localhost
        return False
