"""Notification subscription commands: create, change, pause, resume, remove; one each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
import strawberry

from vigil.application.notifications import (
    SubscriptionForm,
    SubscriptionNameTaken,
    SubscriptionNotFound,
    change_subscription,
    create_subscription,
    pause_subscription,
    remove_subscription,
    resume_subscription,
)
from vigil.application.permissions import Permission
from vigil.domain.errors import InvalidCommand
from vigil.domain.subscription import Subscription
from vigil.graphql.cases.mutations import NotFoundError
from vigil.graphql.context import Info
from vigil.graphql.errors import InvalidInputError
from vigil.graphql.notifications.types import ChannelKind, NotificationSubscription
from vigil.graphql.permissions import needs


@strawberry.input(description="A subscription as a whole; a change replaces every field.")
class NotificationSubscriptionInput:
    name: str
    channel: ChannelKind
    groups: list[str] = strawberry.field(default_factory=list)
    policies: list[str] = strawberry.field(default_factory=list)
    manual: bool = False
    url: str | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="A webhook's signing secret: left out, one is made on create and the "
        "current one kept on change.",
    )
    recipients: list[str] = strawberry.field(default_factory=list)
    description: str = ""

    def form(self) -> SubscriptionForm:
        return SubscriptionForm(
            groups=self.groups,
            channel=str(self.channel),
            policies=self.policies,
            manual=self.manual,
            url=self.url,
            secret=self.secret,
            recipients=self.recipients,
            description=self.description,
        )


@strawberry.type(description="The subscription was created.")
class NotificationSubscriptionCreated:
    subscription: NotificationSubscription
    secret: str | None = strawberry.field(
        description="The webhook's signing secret, shown this once; null for other channels."
    )


@strawberry.type(description="The command was recorded (or changed nothing).")
class NotificationSubscriptionChanged:
    subscription: NotificationSubscription


CreateNotificationSubscriptionResult = Annotated[
    NotificationSubscriptionCreated | InvalidInputError,
    strawberry.union("CreateNotificationSubscriptionResult"),
]
NotificationSubscriptionResult = Annotated[
    NotificationSubscriptionChanged | NotFoundError | InvalidInputError,
    strawberry.union("NotificationSubscriptionResult"),
]


async def _changed(
    info: Info, command: Callable[..., Subscription], name: str, *args: Any
) -> NotificationSubscriptionResult:
    ctx = info.context
    try:
        found = await anyio.to_thread.run_sync(
            command, ctx.alert_desk, ctx.tenant_id, ctx.actor, name, *args
        )
    except SubscriptionNotFound as error:
        return NotFoundError(id=strawberry.ID(name), message=str(error))
    except InvalidCommand as error:
        return InvalidInputError(field=error.field, message=str(error))
    return NotificationSubscriptionChanged(subscription=NotificationSubscription.from_domain(found))


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        extensions=needs(Permission.ESCALATIONS_MANAGE),
        description="A new subscription; a webhook's signing secret is in the answer, once.",
    )
    async def create_notification_subscription(
        self, info: Info, input: NotificationSubscriptionInput
    ) -> CreateNotificationSubscriptionResult:
        ctx = info.context
        try:
            created = await anyio.to_thread.run_sync(
                create_subscription,
                ctx.alert_desk,
                ctx.tenant_id,
                ctx.actor,
                input.name,
                input.form(),
            )
        except SubscriptionNameTaken as error:
            return InvalidInputError(field="name", message=str(error))
        except InvalidCommand as error:
            return InvalidInputError(field=error.field, message=str(error))
        return NotificationSubscriptionCreated(
            subscription=NotificationSubscription.from_domain(created),
            secret=created.destination.secret,
        )

    @strawberry.mutation(
        extensions=needs(Permission.ESCALATIONS_MANAGE),
        description="Replaces what the subscription receives and where.",
    )
    async def change_notification_subscription(
        self, info: Info, input: NotificationSubscriptionInput
    ) -> NotificationSubscriptionResult:
        return await _changed(info, change_subscription, input.name, input.form())

    @strawberry.mutation(
        extensions=needs(Permission.ESCALATIONS_MANAGE),
        description="The subscription receives nothing until resumed.",
    )
    async def pause_notification_subscription(
        self, info: Info, name: str, reason: str
    ) -> NotificationSubscriptionResult:
        return await _changed(info, pause_subscription, name, reason)

    @strawberry.mutation(extensions=needs(Permission.ESCALATIONS_MANAGE))
    async def resume_notification_subscription(
        self, info: Info, name: str, reason: str
    ) -> NotificationSubscriptionResult:
        return await _changed(info, resume_subscription, name, reason)

    @strawberry.mutation(
        extensions=needs(Permission.ESCALATIONS_MANAGE),
        description="For good; its name stays taken, so its past deliveries still name it.",
    )
    async def remove_notification_subscription(
        self, info: Info, name: str, reason: str
    ) -> NotificationSubscriptionResult:
        return await _changed(info, remove_subscription, name, reason)
