"""The console's notification subscriptions: the list (each target masked as GraphQL shows it),
and for admins the forms that create one, change what one receives and where, and pause, resume
or remove it.

A new webhook's signing secret is shown once, on the page that answers the creating form; it is
never kept anywhere the console could show it again (the list shows its fingerprint).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar import Controller, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_201_CREATED,
    HTTP_303_SEE_OTHER,
    HTTP_422_UNPROCESSABLE_ENTITY,
)

from vigil.application.alert_desk import AlertDesk
from vigil.application.notifications import (
    SubscriptionForm,
    SubscriptionNameTaken,
    SubscriptionNotFound,
    change_subscription,
    create_subscription,
    get_subscription,
    list_subscriptions,
    pause_subscription,
    remove_subscription,
    resume_subscription,
)
from vigil.application.permissions import Permission
from vigil.domain.errors import InvalidCommand
from vigil.domain.subscription import ChannelKind, Subscription
from vigil.graphql.notifications.types import shown_url
from vigil.web.auth import requires
from vigil.web.console import Actor, Tenant

Command = Callable[[AlertDesk, str, str, str, str], Subscription]
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass
class NewSubscriptionForm:
    """The creating form as posted: names and addresses separated by commas or spaces."""

    name: str = ""
    channel: str = "webhook"
    url: str = ""
    recipients: str = ""
    groups: str = ""
    policies: str = ""
    manual: str = ""
    """"on" when the box is ticked; browsers send nothing when it is not."""
    description: str = ""

    def form(self) -> SubscriptionForm:
        return SubscriptionForm(
            groups=_listed(self.groups),
            channel=self.channel.strip(),
            policies=_listed(self.policies),
            manual=bool(self.manual),
            url=self.url.strip() or None,
            recipients=_listed(self.recipients),
            description=self.description,
        )


@dataclass
class ChangedSubscriptionForm:
    """The changing form as posted. The channel stays what it is; a blank URL keeps the one in
    use (a Slack URL is a credential, so the form never shows it), and the secret is kept."""

    url: str = ""
    recipients: str = ""
    groups: str = ""
    policies: str = ""
    manual: str = ""
    description: str = ""

    def form(self, current: Subscription) -> SubscriptionForm:
        return SubscriptionForm(
            groups=_listed(self.groups),
            channel=str(current.destination.kind),
            policies=_listed(self.policies),
            manual=bool(self.manual),
            url=self.url.strip() or current.destination.url,
            recipients=_listed(self.recipients),
            description=self.description,
        )


@dataclass
class ReasonForm:
    reason: str = ""


@dataclass(frozen=True)
class SubscriptionRow:
    """A subscription as the console shows it: never a secret, nor a full Slack URL."""

    name: str
    channel: str
    groups: tuple[str, ...]
    policies: tuple[str, ...]
    manual: bool
    target: str
    secret_fingerprint: str | None
    paused: bool
    description: str

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionRow:
        interests, destination = subscription.interests, subscription.destination
        return cls(
            name=subscription.name,
            channel=str(destination.kind),
            groups=interests.groups,
            policies=interests.policies,
            manual=interests.manual,
            target=shown_url(destination) or ", ".join(destination.recipients),
            secret_fingerprint=subscription.secret_fingerprint,
            paused=subscription.paused,
            description=subscription.description,
        )


@dataclass(frozen=True)
class Refusal:
    field: str
    reason: str
    subscription: str | None = None
    """The subscription whose pause, resume or remove form was refused; None for the new one."""


def subscription_pages(desk: AlertDesk) -> type[Controller]:
    class SubscriptionPages(Controller):
        path = "/"
        include_in_schema = False
        guards = [requires(Permission.ESCALATIONS_READ)]

        @get("/subscriptions", name="subscription-list")
        async def listed(self, tenant_id: Tenant) -> Template:
            return await _list_page(desk, tenant_id)

        @post(
            "/subscriptions",
            name="subscription-create",
            guards=[requires(Permission.ESCALATIONS_MANAGE)],
        )
        async def create(
            self, data: URLEncodedBody[NewSubscriptionForm], tenant_id: Tenant, actor: Actor
        ) -> Template:
            try:
                created = await anyio.to_thread.run_sync(
                    create_subscription, desk, tenant_id, actor, data.name, data.form()
                )
            except SubscriptionNameTaken as taken:
                return await _list_page(desk, tenant_id, data, Refusal("name", str(taken)))
            except InvalidCommand as error:
                return await _list_page(desk, tenant_id, data, Refusal(error.field, error.reason))
            context = {"row": SubscriptionRow.of(created), "secret": created.destination.secret}
            return Template(
                "subscription_created.html", context=context, status_code=HTTP_201_CREATED
            )

        @get("/subscriptions/{subscription_name:str}", name="subscription-detail")
        async def detail(self, subscription_name: FromPath[str], tenant_id: Tenant) -> Template:
            found = await anyio.to_thread.run_sync(_found, desk, tenant_id, subscription_name)
            return _change_page(found)

        @post(
            "/subscriptions/{subscription_name:str}",
            name="subscription-change",
            guards=[requires(Permission.ESCALATIONS_MANAGE)],
        )
        async def change(
            self,
            subscription_name: FromPath[str],
            data: URLEncodedBody[ChangedSubscriptionForm],
            tenant_id: Tenant,
            actor: Actor,
        ) -> Redirect | Template:
            current = await anyio.to_thread.run_sync(_found, desk, tenant_id, subscription_name)
            try:
                await anyio.to_thread.run_sync(
                    change_subscription, desk, tenant_id, actor, current.name, data.form(current)
                )
            except InvalidCommand as error:
                return _change_page(current, data, Refusal(error.field, error.reason))
            return Redirect("/subscriptions", status_code=HTTP_303_SEE_OTHER)

        @post(
            "/subscriptions/{subscription_name:str}/{action:str}",
            name="subscription-action",
            guards=[requires(Permission.ESCALATIONS_MANAGE)],
        )
        async def act(
            self,
            subscription_name: FromPath[str],
            action: FromPath[str],
            data: URLEncodedBody[ReasonForm],
            tenant_id: Tenant,
            actor: Actor,
        ) -> Redirect | Template:
            """`pause`, `resume` or `remove`, with the reason the form gives."""
            command = _ACTIONS.get(action)
            if command is None:
                reason = f"a subscription is paused, resumed or removed, not {action!r}"
                raise NotFoundException(reason)
            return await _commanded(desk, command, tenant_id, actor, subscription_name, data)

    return SubscriptionPages


_ACTIONS: dict[str, Command] = {
    "pause": pause_subscription,
    "resume": resume_subscription,
    "remove": remove_subscription,
}


async def _commanded(
    desk: AlertDesk, command: Command, tenant_id: str, actor: str, name: str, data: ReasonForm
) -> Redirect | Template:
    try:
        await anyio.to_thread.run_sync(command, desk, tenant_id, actor, name, data.reason)
    except SubscriptionNotFound as error:
        raise NotFoundException(str(error)) from None
    except InvalidCommand as error:
        refusal = Refusal(error.field, error.reason, name)
        return await _list_page(desk, tenant_id, refused=refusal)
    return Redirect("/subscriptions", status_code=HTTP_303_SEE_OTHER)


def _found(desk: AlertDesk, tenant_id: str, name: str) -> Subscription:
    try:
        return get_subscription(desk, tenant_id, name)
    except SubscriptionNotFound as error:
        raise NotFoundException(str(error)) from None


def _change_page(
    current: Subscription,
    form: ChangedSubscriptionForm | None = None,
    refused: Refusal | None = None,
) -> Template:
    """The subscription and its changing form: as posted when refused, else as it stands (a
    Slack URL left out, since it is a credential)."""
    interests, destination = current.interests, current.destination
    shown = form or ChangedSubscriptionForm(
        url=(destination.url or "") if destination.kind == ChannelKind.WEBHOOK else "",
        recipients=", ".join(destination.recipients),
        groups=", ".join(interests.groups),
        policies=", ".join(interests.policies),
        manual="on" if interests.manual else "",
        description=current.description,
    )
    context = {"row": SubscriptionRow.of(current), "form": shown, "refused": refused}
    status = 200 if refused is None else HTTP_422_UNPROCESSABLE_ENTITY
    return Template("subscription.html", context=context, status_code=status)


async def _list_page(
    desk: AlertDesk,
    tenant_id: str,
    form: NewSubscriptionForm | None = None,
    refused: Refusal | None = None,
) -> Template:
    found = await anyio.to_thread.run_sync(list_subscriptions, desk, tenant_id)
    context: dict[str, Any] = {
        "rows": [SubscriptionRow.of(s) for s in found],
        "form": form or NewSubscriptionForm(),
        "channels": [str(kind) for kind in ChannelKind],
        "refused": refused,
    }
    status = 200 if refused is None else HTTP_422_UNPROCESSABLE_ENTITY
    return Template("subscriptions.html", context=context, status_code=status)


def _listed(text: str) -> list[str]:
    return [item for item in _SEPARATORS.split(text) if item]
