"""The NotificationSubscription type: everything about a subscription but its signing secret,
which shows as a fingerprint."""

from __future__ import annotations

from urllib.parse import urlsplit

import strawberry

from vigil.domain import subscription as domain

ChannelKind = domain.ChannelKind
strawberry.enum(ChannelKind, description="How a subscription is told.")


def shown_url(destination: domain.Destination) -> str | None:
    """A Slack incoming-webhook URL is itself a credential: only its host is shown."""
    if destination.url is None or destination.kind is not ChannelKind.SLACK:
        return destination.url
    parts = urlsplit(destination.url)
    return f"{parts.scheme}://{parts.hostname}/…"


@strawberry.type(description="Which escalations one receiver hears of, and where.")
class NotificationSubscription:
    id: strawberry.ID
    name: str
    groups: list[str] = strawberry.field(
        description="The notify groups of policy steps it receives (`on-call`)."
    )
    policies: list[str] = strawberry.field(
        description="Only these policies' escalations; empty means every policy's."
    )
    manual: bool = strawberry.field(description="Whether it receives escalations by hand.")
    channel: ChannelKind
    url: str | None = strawberry.field(
        description="The webhook's URL; a Slack URL shows its host only; null for email."
    )
    recipients: list[str]
    secret_fingerprint: str | None = strawberry.field(
        description="Tells the webhook's signing secret apart from another; the secret itself "
        "is shown once, when it is made."
    )
    paused: bool
    description: str

    @classmethod
    def from_domain(cls, subscription: domain.Subscription) -> NotificationSubscription:
        interests, destination = subscription.interests, subscription.destination
        return cls(
            id=strawberry.ID(str(subscription.id)),
            name=subscription.name,
            groups=list(interests.groups),
            policies=list(interests.policies),
            manual=interests.manual,
            channel=destination.kind,
            url=shown_url(destination),
            recipients=list(destination.recipients),
            secret_fingerprint=subscription.secret_fingerprint,
            paused=subscription.paused,
            description=subscription.description,
        )
