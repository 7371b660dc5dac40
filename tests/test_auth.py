"""Sign-in mode, roles from identity-token claims, names and permissions (core/auth.py).

Claim shapes come from two providers on purpose: Keycloak nests realm roles
(``realm_access.roles``) and client roles (``resource_access.<client>.roles``), Entra ID
puts app roles in a flat ``roles`` list; some providers send one space-separated string.
"""

from __future__ import annotations

import pytest

from core.auth import (
    AUTH_ENV,
    NOT_SIGNED_IN,
    ROLE_CLAIM_ENV,
    USER_CLAIM_ENV,
    AuthConfigError,
    Mode,
    Permission,
    Principal,
    Role,
    auth_mode,
    claim_at,
    identity_name,
    is_loopback,
    page_permission,
    roles_from_claims,
    signed_in_principal,
    single_user_principal,
)

AUTH = {
    "redirect_uri": "https://review.example.org/oauth2callback",
    "cookie_secret": "s" * 32,
    "client_id": "imaging-review",
    "client_secret": "secret",
    "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration",
}
KEYCLOAK = {
    "sub": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    "preferred_username": "rita",
    "email": "rita@hospital.example",
    "realm_access": {"roles": ["offline_access", "uma_authorization", "analyst"]},
    "resource_access": {"imaging-review": {"roles": ["admin"]}, "other-app": {"roles": []}},
}
ENTRA = {
    "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
    "preferred_username": "olaf@contoso.example",
    "roles": ["Reviewer"],
}


@pytest.mark.parametrize(
    ("claims", "path", "expected"),
    [
        (KEYCLOAK, "realm_access.roles", {Role.ANALYST}),
        (KEYCLOAK, "resource_access.imaging-review.roles", {Role.ADMIN}),
        (KEYCLOAK, "resource_access.other-app.roles", set()),
        (KEYCLOAK, "roles", set()),  # Keycloak has no flat roles claim
        (ENTRA, "roles", {Role.REVIEWER}),  # names match without regard to case
        ({"groups": "reviewer analyst"}, "groups", {Role.REVIEWER, Role.ANALYST}),
        ({"groups": "admin,reviewer"}, "groups", {Role.ADMIN, Role.REVIEWER}),
        ({"role": "analyst"}, "role", {Role.ANALYST}),
        ({"https://example.org/roles": ["admin"]}, "https://example.org/roles", {Role.ADMIN}),
        ({"roles": ["superuser", "root", 3, None, "", "administrator"]}, "roles", set()),
        ({"roles": {"admin": True}}, "roles", set()),  # a mapping is not a list of names
        ({"roles": 3}, "roles", set()),
        ({"realm_access": "admin"}, "realm_access.roles", set()),  # a step that is not a dict
    ],
)
def test_roles_from_every_claim_shape(claims: dict, path: str, expected: set[Role]) -> None:
    assert roles_from_claims(claims, path) == frozenset(expected)


def test_claim_paths_walk_nested_mappings_and_stop_at_missing_steps() -> None:
    assert claim_at(KEYCLOAK, "realm_access.roles")[-1] == "analyst"
    assert claim_at(KEYCLOAK, "realm_access.missing") is None
    assert claim_at(KEYCLOAK, "nothing.here") is None
    assert claim_at({"a.b": 1, "a": {"b": 2}}, "a.b") == 1  # a dotted name is matched whole first


def test_the_role_hierarchy_grants_each_role_exactly_its_permissions() -> None:
    def allowed(role: Role | None) -> set[Permission]:
        who = Principal("x", role, signed_in=True)
        return {p for p in Permission if who.can(p)}

    review = {Permission.REVIEW_CASES, Permission.SAVE_VERDICTS}
    analyse = review | {Permission.OPEN_COHORTS, Permission.SAVE_THRESHOLD_SETS}
    assert allowed(None) == set()
    assert allowed(Role.REVIEWER) == review
    assert allowed(Role.ANALYST) == analyse
    assert allowed(Role.ADMIN) == set(Permission)


def test_pages_need_their_role_and_an_unlisted_page_is_admin_only() -> None:
    assert page_permission("pages/case_review.py") is Permission.REVIEW_CASES
    assert page_permission("pages/chest_case.py") is Permission.REVIEW_CASES
    assert page_permission("pages/cohort.py") is Permission.OPEN_COHORTS
    assert page_permission("pages/chest_cohort.py") is Permission.OPEN_COHORTS
    assert page_permission("pages/new_thing.py") is Permission.OPEN_UNLISTED_PAGE
    assert not Principal("x", Role.ANALYST, True).can(page_permission("pages/new_thing.py"))


def test_a_signed_in_user_holds_the_highest_role_and_is_named_by_a_stable_claim() -> None:
    env = {ROLE_CLAIM_ENV: "realm_access.roles"}
    assert signed_in_principal(KEYCLOAK, env) == Principal(
        "rita@hospital.example", Role.ANALYST, signed_in=True
    )
    client_roles = {ROLE_CLAIM_ENV: "resource_access.imaging-review.roles"}
    assert signed_in_principal(KEYCLOAK, client_roles).role is Role.ADMIN
    both = {**KEYCLOAK, "roles": ["reviewer", "admin", "analyst"]}
    assert signed_in_principal(both, {}).role is Role.ADMIN  # default claim: roles
    entra = signed_in_principal(ENTRA, {})
    assert (entra.name, entra.role, entra.actor) == (
        "olaf@contoso.example",
        Role.REVIEWER,
        "olaf@contoso.example",
    )
    nobody = signed_in_principal({"sub": "u-1", "roles": ["viewer"]}, {})
    assert (nobody.name, nobody.role) == ("u-1", None)  # sub as the last resort; no role
    assert not any(nobody.can(p) for p in Permission)


def test_the_name_claim_is_configurable_and_a_token_without_one_is_refused() -> None:
    assert identity_name(KEYCLOAK) == "rita@hospital.example"
    assert identity_name(KEYCLOAK, "preferred_username") == "rita"
    assert signed_in_principal(KEYCLOAK, {USER_CLAIM_ENV: "sub"}).name == KEYCLOAK["sub"]
    assert identity_name({"email": "  a   b  ", "sub": "s"}) == "a b"
    assert len(identity_name({"email": "x" * 500})) == 200
    with pytest.raises(AuthConfigError, match="preferred_username"):
        identity_name({"email": "e@x"}, "preferred_username")
    with pytest.raises(AuthConfigError, match="no email"):
        identity_name({"name": "Only A Display Name", "email": "  "})


def test_the_single_user_is_marked_not_signed_in_and_holds_every_permission() -> None:
    ana = single_user_principal("  Ana   Ruiz ")
    assert ana == Principal(f"Ana Ruiz ({NOT_SIGNED_IN})", Role.ADMIN, signed_in=False)
    assert ana.actor == "Ana Ruiz (not signed in)" and all(ana.can(p) for p in Permission)
    nameless = single_user_principal("   ")
    assert (nameless.name, nameless.actor) == ("", NOT_SIGNED_IN)
    assert len(single_user_principal("x" * 500).name) <= 200  # fits a verdict's reviewer


@pytest.mark.parametrize(
    ("env", "section", "mode"),
    [
        ({}, None, Mode.SINGLE_USER),
        ({}, {}, Mode.SINGLE_USER),
        ({AUTH_ENV: "none"}, AUTH, Mode.SINGLE_USER),  # the operator's explicit choice
        ({}, AUTH, Mode.OIDC),  # configuring sign-in switches it on
        ({AUTH_ENV: "oidc"}, AUTH, Mode.OIDC),
        ({AUTH_ENV: " OIDC "}, AUTH, Mode.OIDC),
    ],
)
def test_mode_selection(env: dict, section: dict | None, mode: Mode) -> None:
    assert auth_mode(env, section) is mode


@pytest.mark.parametrize(
    ("env", "section", "reason"),
    [
        ({AUTH_ENV: "oidc"}, None, "no \\[auth\\] section"),
        ({AUTH_ENV: "oidc"}, {}, "no \\[auth\\] section"),
        ({AUTH_ENV: "yes"}, AUTH, "not one of"),
        ({}, {**AUTH, "client_secret": ""}, "lacks client_secret"),
        ({AUTH_ENV: "oidc"}, {"redirect_uri": AUTH["redirect_uri"]}, "lacks cookie_secret"),
        ({}, {**AUTH, "redirect_uri": "https://review.example.org/"}, "oauth2callback"),
    ],
)
def test_a_half_configured_shared_mode_fails_closed(env: dict, section, reason: str) -> None:
    with pytest.raises(AuthConfigError, match=reason):
        auth_mode(env, section)


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("review.hospital.example", False),
        ("", False),  # unset: Streamlit listens on every interface
        (None, False),
    ],
)
def test_loopback_addresses(address: str | None, local: bool) -> None:
    assert is_loopback(address) is local
