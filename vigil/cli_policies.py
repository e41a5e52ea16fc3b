"""`vigil policies ...`: apply escalation policy documents, list and show them, and disable or
enable one, on the record.

Like `vigil sources apply`, apply checks every document of every file before it saves any, and
saves them all at once; a refused document is named by file, line and field on stderr, with
exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from vigil import bootstrap
from vigil.application.escalation_policies import (
    PolicyNotFound,
    apply_policies,
    disable_policy,
    enable_policy,
    get_policy,
    list_policies,
)
from vigil.application.policy_history import policy_history
from vigil.cli_sources import REFUSED
from vigil.cli_users import terminal_actor
from vigil.domain.errors import InvalidCommand
from vigil.domain.escalation_policy import EscalationPolicy, PolicyDefinition, duration_text
from vigil.infrastructure.settings import Settings
from vigil.infrastructure.yaml_documents import DocumentError, load_documents


def cmd_apply(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    try:
        definitions = checked_definitions(args.files)
    except DocumentError as error:
        print(f"vigil policies apply: {error}", file=sys.stderr)
        return REFUSED
    desk = bootstrap.build_alert_desk(settings)
    try:
        applied = apply_policies(desk, tenant_id, args.actor, definitions, args.note)
    except InvalidCommand as error:
        print(f"vigil policies apply: {error.field}: {error.reason}", file=sys.stderr)
        return REFUSED
    finally:
        desk.close()
    for one in applied:
        state = f"revision {one.policy.revision}" if one.changed else "unchanged"
        print(f"{one.policy.name}: {state}")
    return 0


def checked_definitions(paths: Sequence[Path]) -> list[PolicyDefinition]:
    """Every document of every file as a policy definition; DocumentError with the file and
    line at fault, so a refusal records nothing. A name defined twice is refused too."""
    definitions: dict[str, PolicyDefinition] = {}
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DocumentError(str(path), None, None, f"unreadable: {exc}") from None
        for document in load_documents(text, str(path)):
            definition = document.parse(PolicyDefinition.from_document)
            if definition.name in definitions:
                reason = f"{definition.name!r} is defined by an earlier document"
                raise DocumentError(str(path), document.line_of("name"), "name", reason)
            definitions[definition.name] = definition
    return list(definitions.values())


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    desk = bootstrap.build_alert_desk(settings)
    try:
        policies = list_policies(desk, tenant_id)
    finally:
        desk.close()
    for policy in policies:
        print(policy_line(policy))
    if not policies:
        print("no escalation policies")
    return 0


def policy_line(policy: EscalationPolicy) -> str:
    state = "enabled" if policy.enabled else "disabled"
    steps = "; ".join(
        f"{duration_text(step.after_minutes)} -> {', '.join(step.notify)}"
        for step in policy.definition.steps
    )
    return f"{policy.name} (revision {policy.revision}, {state}): {steps}"


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    desk = bootstrap.build_alert_desk(settings)
    try:
        policy = get_policy(desk, tenant_id, args.name)
        history = policy_history(desk, tenant_id, args.name)
    except PolicyNotFound as error:
        print(f"vigil policies show: name: {error}", file=sys.stderr)
        return REFUSED
    finally:
        desk.close()
    body = {
        "revision": policy.revision,
        "enabled": policy.enabled,
        **policy.definition.to_document(),
        "history": [
            {"event": c.event, "actor": c.actor, "at": c.at.isoformat(), "why": c.why}
            for c in history
        ],
    }
    print(json.dumps(body, indent=2))
    return 0


def cmd_disable(args: argparse.Namespace, settings: Settings) -> int:
    return _switch(args, settings, "disable")


def cmd_enable(args: argparse.Namespace, settings: Settings) -> int:
    return _switch(args, settings, "enable")


def _switch(args: argparse.Namespace, settings: Settings, how: str) -> int:
    tenant_id = args.tenant or settings.server.default_tenant
    command = disable_policy if how == "disable" else enable_policy
    desk = bootstrap.build_alert_desk(settings)
    try:
        policy = command(desk, tenant_id, args.actor, args.name, args.reason)
    except PolicyNotFound as error:
        print(f"vigil policies {how}: name: {error}", file=sys.stderr)
        return REFUSED
    except InvalidCommand as error:
        print(f"vigil policies {how}: {error.field}: {error.reason}", file=sys.stderr)
        return REFUSED
    finally:
        desk.close()
    print(f"{policy.name}: {'enabled' if policy.enabled else 'disabled'}")
    return 0


def add_policies_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tenant", default=None, help="the tenant (default: the install's)")
    acting = argparse.ArgumentParser(add_help=False, parents=[common])
    acting.add_argument("--actor", default=terminal_actor(), help="who (default: %(default)s)")
    policies = commands.add_parser("policies", help="escalation policies: who hears, and when")
    sub = policies.add_subparsers(dest="policies_command", required=True, metavar="COMMAND")

    apply = sub.add_parser("apply", parents=[acting], help="define or change policies from YAML")
    apply.add_argument("files", type=Path, nargs="+", metavar="FILE")
    apply.add_argument("--note", default="", help="why, for the record")
    apply.set_defaults(handler=cmd_apply)

    sub.add_parser("list", parents=[common], help="the tenant's policies").set_defaults(
        handler=cmd_list
    )

    show = sub.add_parser("show", parents=[common], help="a policy's definition and history")
    show.add_argument("name")
    show.set_defaults(handler=cmd_show)

    for name, handler, said in (
        ("disable", cmd_disable, "stop a policy escalating anything"),
        ("enable", cmd_enable, "put a disabled policy back to work"),
    ):
        switch = sub.add_parser(name, parents=[acting], help=said)
        switch.add_argument("name")
        switch.add_argument("--reason", required=True, help="why, for the record")
        switch.set_defaults(handler=handler)
