"""The permission table: what each role may do, and the guard every interface calls."""

from __future__ import annotations

import re
from uuid import UUID

import pytest

from vigil.application.permissions import (
    READ_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    PermissionDenied,
    Principal,
    Role,
    Via,
    authorize,
    authorize_account,
    permissions_of,
)

ANN = UUID(int=1)
BOB = UUID(int=2)


def principal(*roles: Role, via: Via = "password", user: UUID = ANN) -> Principal:
    return Principal(user, "acme", "ann", frozenset(roles), permissions_of(roles), via)


def holders(permission: Permission) -> set[Role]:
    return {role for role, granted in ROLE_PERMISSIONS.items() if permission in granted}


def test_every_role_has_a_row_and_every_permission_is_held_by_some_role() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    for permission in Permission:
        assert holders(permission), f"nobody holds {permission}"


def test_permissions_are_named_area_colon_action() -> None:
    for permission in Permission:
        assert re.fullmatch(r"[a-z]+:[a-z]+", permission), permission


def test_the_admin_may_do_everything() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


def test_the_auditor_reads_everything_and_changes_nothing() -> None:
    assert ROLE_PERMISSIONS[Role.AUDITOR] == READ_PERMISSIONS
    assert all(p.endswith(":read") for p in ROLE_PERMISSIONS[Role.AUDITOR])
    assert Permission.AUDIT_READ in ROLE_PERMISSIONS[Role.AUDITOR]


@pytest.mark.parametrize(
    ("permission", "roles"),
    [
        (Permission.USERS_MANAGE, {Role.ADMIN}),
        (Permission.PII_ERASE, {Role.ADMIN}),
        (Permission.ESCALATIONS_MANAGE, {Role.ADMIN}),
        (Permission.QUEUES_MANAGE, {Role.ADMIN}),
        (Permission.PII_REVEAL, {Role.ADMIN, Role.PII_REVIEWER}),
        (Permission.MODELS_PROMOTE, {Role.ADMIN, Role.MODEL_OWNER}),
        (Permission.RULES_MANAGE, {Role.ADMIN, Role.MODEL_OWNER}),
        (Permission.SOURCES_MANAGE, {Role.ADMIN, Role.DATA_ENGINEER}),
        (Permission.ALERTS_ACT, {Role.ADMIN, Role.ANALYST}),
        (Permission.CASES_ACT, {Role.ADMIN, Role.ANALYST}),
    ],
)
def test_the_permissions_that_change_who_sees_or_decides_are_held_narrowly(
    permission: Permission, roles: set[Role]
) -> None:
    assert holders(permission) == roles


def test_every_working_role_reads_the_data_sources_but_only_engineers_change_them() -> None:
    assert holders(Permission.SOURCES_READ) == {
        Role.ANALYST,
        Role.DATA_ENGINEER,
        Role.MODEL_OWNER,
        Role.ADMIN,
        Role.AUDITOR,
    }
    assert holders(Permission.SOURCES_MANAGE) == {Role.DATA_ENGINEER, Role.ADMIN}


def test_no_working_role_reveals_personal_data_by_default() -> None:
    for role in (Role.ANALYST, Role.DATA_ENGINEER, Role.MODEL_OWNER, Role.AUDITOR):
        assert Permission.PII_REVEAL not in ROLE_PERMISSIONS[role]
    assert ROLE_PERMISSIONS[Role.PII_REVIEWER] == {Permission.PII_REVEAL}


def test_roles_add_up_and_unknown_or_no_roles_allow_nothing() -> None:
    both = permissions_of(["analyst", "pii_reviewer"])
    assert both == ROLE_PERMISSIONS[Role.ANALYST] | {Permission.PII_REVEAL}
    assert permissions_of([]) == frozenset()
    assert permissions_of(["superuser"]) == frozenset()


def test_authorize_passes_a_held_permission_and_names_a_missing_one() -> None:
    analyst = principal(Role.ANALYST)
    authorize(analyst, Permission.ALERTS_ACT)
    assert analyst.may(Permission.ALERTS_ACT)
    with pytest.raises(PermissionDenied) as denied:
        authorize(analyst, Permission.USERS_MANAGE)
    assert denied.value.permission is Permission.USERS_MANAGE
    assert str(denied.value) == "this needs the permission users:manage"


def test_a_user_with_no_role_is_refused_everything() -> None:
    nobody = principal()
    for permission in Permission:
        with pytest.raises(PermissionDenied):
            authorize(nobody, permission)


@pytest.mark.parametrize("via", ["password", "token"])
def test_anyone_signed_in_may_manage_their_own_account(via: Via) -> None:
    authorize_account(principal(via=via), ANN)


def test_an_api_key_cannot_manage_its_own_account() -> None:
    with pytest.raises(PermissionDenied):
        authorize_account(principal(Role.ANALYST, via="api_key"), ANN)


def test_another_users_account_needs_users_manage() -> None:
    with pytest.raises(PermissionDenied):
        authorize_account(principal(Role.ANALYST), BOB)
    authorize_account(principal(Role.ADMIN), BOB)
