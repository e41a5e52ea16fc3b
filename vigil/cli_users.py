"""`vigil users`: who may sign in, with which roles and API keys, administered from the terminal;
and the demo's users, one per role.

No permission is checked here: whoever runs this with the install's settings holds the event
store's credentials and could write to it directly, which is also how the first admin is made.
Every event records `--actor` (by default `cli:<login name>`), so the log says who it was.
"""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vigil import bootstrap
from vigil.application import identity
from vigil.application.alert_desk import AlertDesk
from vigil.application.identity_ports import PasswordHasher
from vigil.application.permissions import Role, permissions_of
from vigil.domain.api_key import ApiKey
from vigil.domain.errors import (
    ApiKeyAlreadyRevoked,
    ApiKeyNotFound,
    DomainError,
    InvalidCommand,
    RoleAlreadyHeld,
    RoleNotHeld,
    UsernameTaken,
    UserNotFound,
)
from vigil.domain.user import User, role_of, username_of
from vigil.infrastructure.settings import Settings

REFUSED = 2
"""The exit status of a refused command, as argparse uses for a bad command line."""

OPTION_OF_FIELD = {
    "roles": "--role",
    "display_name": "--display-name",
    "name": "--name",
    "scopes": "--scope",
    "expires_at": "--days",
    "reason": "--reason",
}
"""Where a command field the domain refuses was given on the command line."""


def terminal_actor() -> str:
    """`cli:<login name>`: who at the terminal recorded the events."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name in the environment nor the password database
        return "cli:unknown"


@dataclass(frozen=True)
class UserAdmin:
    """One `vigil users` command's desk, hasher, tenant and actor."""

    desk: AlertDesk
    hasher: PasswordHasher
    tenant_id: str
    actor: str

    def user(self, username: str) -> User:
        user = identity.find_user(self.desk, self.tenant_id, username)
        if user is None:
            raise UserNotFound(username)
        return user


# The commands ----------------------------------------------------------------------------------


def create(args: argparse.Namespace, admin: UserAdmin) -> None:
    name = username_of(args.username)
    roles = [str(role_of("roles", role)) for role in args.roles]
    # Refused before the password is asked for, so nobody types one for nothing.
    if identity.find_user(admin.desk, admin.tenant_id, name) is not None:
        raise UsernameTaken(name)
    password = _new_password(name, args.password_stdin)
    user = identity.register_user(
        admin.desk,
        admin.hasher,
        admin.tenant_id,
        admin.actor,
        name,
        password,
        roles,
        args.display_name,
    )
    print(user.id)


def grant(args: argparse.Namespace, admin: UserAdmin) -> None:
    user = admin.user(args.username)
    identity.grant_role(admin.desk, admin.tenant_id, user.id, admin.actor, args.role)
    print(f"{user.username} holds {args.role}")


def revoke(args: argparse.Namespace, admin: UserAdmin) -> None:
    user = admin.user(args.username)
    identity.revoke_role(admin.desk, admin.tenant_id, user.id, admin.actor, args.role)
    print(f"{user.username} no longer holds {args.role}")


def disable(args: argparse.Namespace, admin: UserAdmin) -> None:
    user = admin.user(args.username)
    identity.disable_user(admin.desk, admin.tenant_id, user.id, admin.actor, args.reason)
    print(f"{user.username} is disabled")


def enable(args: argparse.Namespace, admin: UserAdmin) -> None:
    user = admin.user(args.username)
    identity.enable_user(admin.desk, admin.tenant_id, user.id, admin.actor, args.reason)
    print(f"{user.username} is enabled")


def reset_password(args: argparse.Namespace, admin: UserAdmin) -> None:
    user = admin.user(args.username)
    password = _new_password(user.username, args.password_stdin)
    identity.reset_password(
        admin.desk, admin.hasher, admin.tenant_id, user.id, admin.actor, password
    )
    print(f"{user.username} has a new password; their access tokens no longer work")


def issue_key(args: argparse.Namespace, admin: UserAdmin) -> None:
    """The key alone goes to stdout, so `> key.txt` keeps it and nothing else."""
    user = admin.user(args.username)
    expires_at = admin.desk.clock() + timedelta(days=args.days)
    issued = identity.issue_api_key(
        admin.desk, admin.tenant_id, user.id, admin.actor, args.name, expires_at, args.scopes
    )
    print(
        f"API key {issued.key_id} ({issued.name}) of {user.username}, "
        f"expires {_when(issued.expires_at)}:",
        file=sys.stderr,
    )
    print(issued.plaintext, flush=True)
    print("It will not be shown again: store it now.", file=sys.stderr)


def revoke_key(args: argparse.Namespace, admin: UserAdmin) -> None:
    user = admin.user(args.username)
    identity.revoke_api_key(
        admin.desk, admin.tenant_id, user.id, admin.actor, args.key_id, args.reason
    )
    print(f"API key {args.key_id} of {user.username} is revoked")


def show(args: argparse.Namespace, admin: UserAdmin) -> None:
    user, now = admin.user(args.username), admin.desk.clock()
    print(f"username      {user.username}")
    print(f"display name  {user.display_name}")
    print(f"id            {user.id}")
    print(f"tenant        {user.tenant_id}")
    print(f"status        {'disabled' if user.disabled else 'enabled'}")
    print(f"roles         {', '.join(sorted(user.roles)) or '(none)'}")
    print(f"permissions   {', '.join(sorted(permissions_of(user.roles))) or '(none)'}")
    keys = sorted(user.api_keys.values(), key=lambda key: key.issued_at)
    print(f"api keys      {len(keys) or '(none)'}")
    for key in keys:
        scopes = ", ".join(sorted(key.scopes)) or "all of the user's"
        print(f"  {key.key_id}  {key.name}  scopes: {scopes}  {_key_state(key, now)}")


def _key_state(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return f"revoked {_when(key.revoked_at)}"
    if not key.active(now):
        return f"expired {_when(key.expires_at)}"
    return f"expires {_when(key.expires_at)}"


def _when(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _new_password(username: str, from_stdin: bool) -> str:
    """Read from stdin or asked for twice, never taken from the command line, where shell
    history and `ps` would keep it. Checked against the policy before it is asked again."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidCommand("password", "nothing was given on stdin")
        return line.rstrip("\r\n")
    try:
        password = getpass.getpass(f"New password for {username}: ")
        identity.check_password_policy("password", password, username)
        repeated = getpass.getpass("The same again: ")
    except EOFError:
        raise InvalidCommand("password", "none was given") from None
    if repeated != password:
        raise InvalidCommand("password", "the two entries differ")
    return password


# Running a command -----------------------------------------------------------------------------

Command = Callable[[argparse.Namespace, UserAdmin], None]


def _handler(command: Command) -> Callable[[argparse.Namespace, Settings], int]:
    """The command on a desk of its own, its refusal as one line on stderr and status 2."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        tenant_id = args.tenant or settings.server.default_tenant
        desk = bootstrap.build_alert_desk(settings)
        try:
            hasher = bootstrap.build_password_hasher(settings)
            command(args, UserAdmin(desk, hasher, tenant_id, args.actor))
        except DomainError as error:
            field, reason = _field_and_reason(error, tenant_id)
            print(f"vigil users {args.users_command}: {field}: {reason}", file=sys.stderr)
            return REFUSED
        finally:
            desk.close()
        return 0

    return run


def _field_and_reason(error: DomainError, tenant_id: str) -> tuple[str, str]:
    if isinstance(error, InvalidCommand):
        return OPTION_OF_FIELD.get(error.field, error.field), error.reason
    if isinstance(error, UserNotFound):
        return "username", f"no user {error.user_id} in the tenant {tenant_id}"
    if isinstance(error, RoleAlreadyHeld | RoleNotHeld):
        return "role", str(error)
    if isinstance(error, ApiKeyNotFound | ApiKeyAlreadyRevoked):
        return "key_id", str(error)
    # What is left is the user's own state: disabled, not disabled, too many keys.
    return "username", str(error)


# The parser ------------------------------------------------------------------------------------


def add_users_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser("users", help="administer users, their roles and API keys")
    sub = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    common, roles = _tenant_and_actor(), ", ".join(Role)

    def add(name: str, command: Command, help: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, parents=[common], help=help, description=help)
        parser.add_argument("username")
        parser.set_defaults(handler=_handler(command))
        return parser

    made = add("create", create, "register a user; prints their id")
    made.add_argument(
        "--role", dest="roles", action="append", required=True, metavar="ROLE", help=roles
    )
    made.add_argument("--display-name", default="")
    _password_from_stdin(made)
    add("grant", grant, "grant a role").add_argument("role", help=roles)
    add("revoke", revoke, "revoke a role").add_argument("role", help=roles)
    add("disable", disable, "disable a user").add_argument("--reason", required=True)
    add("enable", enable, "enable a disabled user").add_argument("--reason", required=True)
    _password_from_stdin(add("reset-password", reset_password, "set a user's password"))
    issued = add("issue-key", issue_key, "issue an API key; prints it once")
    issued.add_argument("--name", required=True, help="what the key is for")
    issued.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        default=[],
        metavar="PERMISSION",
        help="what the key may do, within its user's permissions (default: all of them)",
    )
    issued.add_argument("--days", type=int, default=90, help="days until it expires")
    revoked = add("revoke-key", revoke_key, "revoke an API key")
    revoked.add_argument("key_id")
    revoked.add_argument("--reason", default="")
    add("show", show, "a user's roles, permissions and API keys (never a secret)")


def _tenant_and_actor() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tenant", default=None, help="the tenant (default: the install's)")
    common.add_argument(
        "--actor", default=terminal_actor(), help="who the events record (default: %(default)s)"
    )
    return common


def _password_from_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking for it",
    )


# The demo's users ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    password: str | None
    """Known only when this run registered the user; never stored."""


def demo_username(role: Role) -> str:
    return f"demo-{role.replace('_', '-')}"


def ensure_demo_users(
    desk: AlertDesk,
    hasher: PasswordHasher,
    tenant_id: str,
    actor: str,
    roles: Iterable[Role] = Role,
) -> list[DemoUser]:
    """One user per role, registered with a random password unless they exist already."""
    users = []
    for role in roles:
        name = demo_username(role)
        if identity.find_user(desk, tenant_id, name) is not None:
            users.append(DemoUser(name, role, None))
            continue
        password = secrets.token_urlsafe(12)
        try:
            identity.register_user(desk, hasher, tenant_id, actor, name, password, [role])
        except UsernameTaken:  # registered meanwhile by a demo started at the same moment
            users.append(DemoUser(name, role, None))
            continue
        users.append(DemoUser(name, role, password))
    return users


def show_demo_users(settings: Settings) -> None:
    """Registers the demo's users in the default tenant and prints the new ones' passwords."""
    tenant_id = settings.server.default_tenant
    desk = bootstrap.build_alert_desk(settings)
    try:
        hasher = bootstrap.build_password_hasher(settings)
        users = ensure_demo_users(desk, hasher, tenant_id, terminal_actor())
    finally:
        desk.close()
    print(demo_users_table(users, tenant_id), flush=True)


def demo_users_table(users: list[DemoUser], tenant_id: str) -> str:
    if all(user.password is None for user in users):
        names = ", ".join(user.username for user in users)
        return (
            f"Demo users of the tenant {tenant_id} exist already: {names}.\n"
            "Their passwords were shown when they were made; "
            "`vigil users reset-password USERNAME` sets a new one.\n"
        )
    rows = [f"Demo users of the tenant {tenant_id} (passwords are shown this once):"]
    rows.append(f"  {'username':<20} {'role':<14} password")
    for user in users:
        rows.append(f"  {user.username:<20} {user.role:<14} {user.password or '(made before)'}")
    return "\n".join(rows) + "\n"
