"""Every root field names the permissions it needs; the caller's principal must hold them all.

What each role holds is `vigil.application.permissions`; what each field needs is declared on the
field itself with `needs(...)`, so the SDL, the guard and the permission matrix test read the same
declaration. A caller with no principal is asked to sign in; one without the permission is told
which one it lacks. Both are GraphQL errors with a `code` extension (UNAUTHENTICATED, FORBIDDEN).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from vigil.application.permissions import Permission
from vigil.graphql.context import Info

SIGN_IN = "sign in: send a bearer token from /api/v1/auth/login or an X-API-Key header"


class Needs(BasePermission):
    """Refuses the field unless the caller holds every one of `permissions`."""

    def __init__(self, *permissions: Permission) -> None:
        self.permissions = permissions

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        # One instance guards a field for every request, so a refusal carries its own message
        # rather than setting one on the instance.
        principal = info.context.principal
        if principal is None:
            raise GraphQLError(SIGN_IN, extensions={"code": "UNAUTHENTICATED"})
        missing = [str(p) for p in self.permissions if not principal.may(p)]
        if missing:
            raise GraphQLError(
                f"this needs the permission {', '.join(missing)}",
                extensions={"code": "FORBIDDEN", "permissions": missing},
            )
        return True


def needs(*permissions: Permission) -> list[FieldExtension]:
    """The extensions that guard a root field. A guarded resolver may not take a Python
    argument named `source` (extensions pass the parent object under that name): name it
    otherwise and keep `source` in the schema with `strawberry.argument(name="source")`."""
    return [PermissionExtension(permissions=[Needs(*permissions)], use_directives=False)]


def required_by(extensions: list[FieldExtension]) -> tuple[Permission, ...] | None:
    """What a field's extensions demand, or None when nothing guards it (for the matrix test)."""
    for extension in extensions:
        if isinstance(extension, PermissionExtension):
            for permission in extension.permissions:
                if isinstance(permission, Needs):
                    return permission.permissions
    return None
