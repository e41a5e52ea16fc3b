"""The console's escalation policies: the list, a policy's page (its definition, its history and
the Disable or Enable form), and the form that applies YAML documents; with the notification
subscriptions' pages (`subscription_pages`), everything issue 7 lets an admin manage.

As with source documents, a refused document is shown again in its form with the line and the
field at fault; nothing was recorded, so there is no redirect. A refused Disable or Enable (no
reason, or the policy is in that state already) shows the policy's page again with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_422_UNPROCESSABLE_ENTITY

from vigil.application.alert_desk import AlertDesk
from vigil.application.escalation_policies import (
    PolicyNotFound,
    apply_policy_text,
    disable_policy,
    enable_policy,
    find_policy,
    list_policies,
)
from vigil.application.permissions import Permission
from vigil.application.policy_history import PolicyChange, policy_history
from vigil.application.source_desk import DocumentRefused, SourceDocuments
from vigil.domain.errors import InvalidCommand
from vigil.domain.escalation_policy import EscalationPolicy, Step, StopCondition, duration_text
from vigil.web.auth import requires
from vigil.web.console import Actor, Tenant
from vigil.web.source_pages import document_form
from vigil.web.subscription_pages import subscription_pages

Switch = Callable[[AlertDesk, str, str, str, str], EscalationPolicy]


@dataclass
class PolicyApplyForm:
    document: str = ""
    note: str = ""


@dataclass
class ReasonForm:
    reason: str = ""


@dataclass(frozen=True)
class PolicySummary:
    """A policy as its row in the list and the head of its page read it."""

    policy: EscalationPolicy
    matches: str
    steps: tuple[str, ...]
    stop_when: tuple[str, ...]
    last: PolicyChange
    """The latest change of any kind: who last touched the policy, and when."""


def escalation_pages(desk: AlertDesk, documents: SourceDocuments) -> list[type[Controller]]:
    """The policy and subscription pages; policy documents are read by the source documents'
    YAML reader, so lines and fields are named the same way."""
    return [policy_pages(desk, documents), subscription_pages(desk)]


def policy_pages(desk: AlertDesk, documents: SourceDocuments) -> type[Controller]:
    class PolicyPages(Controller):
        path = "/"
        include_in_schema = False
        guards = [requires(Permission.ESCALATIONS_READ)]

        @get("/policies", name="policy-list")
        async def listed(self, tenant_id: Tenant) -> Template:
            rows = await anyio.to_thread.run_sync(_summaries, desk, tenant_id)
            return Template("policies.html", context={"rows": rows})

        @get("/policies/{policy_name:str}", name="policy-detail")
        async def detail(self, policy_name: FromPath[str], tenant_id: Tenant) -> Template:
            return await _policy_page(desk, documents, tenant_id, policy_name)

        @post(
            "/policies/{policy_name:str}/{action:str}",
            name="policy-action",
            guards=[requires(Permission.ESCALATIONS_MANAGE)],
        )
        async def switch(
            self,
            policy_name: FromPath[str],
            action: FromPath[str],
            data: URLEncodedBody[ReasonForm],
            tenant_id: Tenant,
            actor: Actor,
        ) -> Redirect | Template:
            """`disable` or `enable`, with the reason the form gives."""
            command = _SWITCHES.get(action)
            if command is None:
                raise NotFoundException(f"a policy is disabled or enabled, not {action!r}")
            return await _switched(desk, documents, command, tenant_id, actor, policy_name, data)

        @get(
            "/policy-documents/new",
            name="policy-apply-form",
            guards=[requires(Permission.ESCALATIONS_MANAGE)],
        )
        async def form(self) -> Template:
            return Template("policy_apply.html", context=document_form(""))

        @post(
            "/policy-documents",
            name="policy-apply",
            guards=[requires(Permission.ESCALATIONS_MANAGE)],
        )
        async def apply(
            self, data: URLEncodedBody[PolicyApplyForm], tenant_id: Tenant, actor: Actor
        ) -> Redirect | Template:
            try:
                applied = await anyio.to_thread.run_sync(
                    apply_policy_text, desk, documents, tenant_id, actor, data.document, data.note
                )
            except DocumentRefused as refused:
                context = document_form(data.document, data.note, refused)
                return Template(
                    "policy_apply.html", context=context, status_code=HTTP_422_UNPROCESSABLE_ENTITY
                )
            names = [one.policy.name for one in applied]
            where = f"/policies/{names[0]}" if len(names) == 1 else "/policies"
            return Redirect(where, status_code=HTTP_303_SEE_OTHER)

    return PolicyPages


_SWITCHES: dict[str, Switch] = {"disable": disable_policy, "enable": enable_policy}


async def _switched(
    desk: AlertDesk,
    documents: SourceDocuments,
    command: Switch,
    tenant_id: str,
    actor: str,
    name: str,
    data: ReasonForm,
) -> Redirect | Template:
    try:
        policy = await anyio.to_thread.run_sync(command, desk, tenant_id, actor, name, data.reason)
    except PolicyNotFound as error:
        raise NotFoundException(str(error)) from None
    except InvalidCommand as refused:
        return await _policy_page(
            desk, documents, tenant_id, name, refused, data.reason, HTTP_422_UNPROCESSABLE_ENTITY
        )
    return Redirect(f"/policies/{policy.name}", status_code=HTTP_303_SEE_OTHER)


async def _policy_page(
    desk: AlertDesk,
    documents: SourceDocuments,
    tenant_id: str,
    name: str,
    refused: InvalidCommand | None = None,
    reason: str = "",
    status: int = 200,
) -> Template:
    found = await anyio.to_thread.run_sync(_summary_of, desk, tenant_id, name)
    if found is None:
        raise NotFoundException(f"no escalation policy named {name!r}")
    summary, history = found
    context = {
        "summary": summary,
        "policy": summary.policy,
        "history": history,
        "document": documents.write(summary.policy.definition.to_document()),
        "refused": refused,
        "reason": reason,
    }
    return Template("policy.html", context=context, status_code=status)


def _summary_of(
    desk: AlertDesk, tenant_id: str, name: str
) -> tuple[PolicySummary, list[PolicyChange]] | None:
    policy = find_policy(desk, tenant_id, name)
    if policy is None:
        return None
    history = policy_history(desk, tenant_id, policy.name)
    return summarised(policy, history), history


def _summaries(desk: AlertDesk, tenant_id: str) -> list[PolicySummary]:
    return [
        summarised(policy, policy_history(desk, tenant_id, policy.name))
        for policy in list_policies(desk, tenant_id)
    ]


def summarised(policy: EscalationPolicy, history: list[PolicyChange]) -> PolicySummary:
    definition = policy.definition
    return PolicySummary(
        policy=policy,
        matches=matches_text(definition.match.to_document()),
        steps=tuple(step_text(step) for step in definition.steps),
        stop_when=tuple(str(s) for s in StopCondition if s in definition.stop_when),
        last=history[-1],
    )


def step_text(step: Step) -> str:
    """`after 15m notify on-call, team-lead, then every 1h, 3 more times`."""
    said = f"after {duration_text(step.after_minutes)} notify {', '.join(step.notify)}"
    if step.repeat is not None:
        every, times = duration_text(step.repeat.every_minutes), step.repeat.times
        said += f", then every {every}, {times} more time{'' if times == 1 else 's'}"
    return said


def matches_text(match: dict[str, Any]) -> str:
    """The match document in a line: `sources cards; severity at least critical`."""
    if not match:
        return "every alert"
    return "; ".join(
        f"{key.replace('_', ' ')} {_value_text(value)}" for key, value in match.items()
    )


def _value_text(value: object) -> str:
    if isinstance(value, dict):
        # A record or entity condition reads from its field: `TX_AMOUNT above 5000`.
        field = f"{value['field']} " if "field" in value else ""
        tests = (
            f"{k.replace('_', ' ')} {_value_text(v)}" for k, v in value.items() if k != "field"
        )
        return field + ", ".join(tests)
    if isinstance(value, list):
        return ", ".join(_value_text(item) for item in value)
    return str(value)
