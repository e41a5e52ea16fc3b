"""The typed errors of alert mutations, one per broken rule, each from its domain error."""

from __future__ import annotations

import strawberry

from vigil.domain.errors import (
    AlertAlreadyAcknowledged,
    AlertIsClosed,
    AlertNotFound,
    DomainError,
    InvalidCommand,
)
from vigil.graphql.errors import Error, InvalidInputError


@strawberry.type(description="No alert with this id exists for the caller's tenant.")
class AlertNotFoundError(Error):
    alert_id: strawberry.ID


@strawberry.type(description="The alert is resolved or dismissed; only reopening it is allowed.")
class AlertClosedError(Error):
    alert_id: strawberry.ID


@strawberry.type(description="The alert was acknowledged already.")
class AlertAlreadyAcknowledgedError(Error):
    alert_id: strawberry.ID


AlertCommandError = (
    AlertNotFoundError | AlertClosedError | AlertAlreadyAcknowledgedError | InvalidInputError
)


def command_error(alert_id: str, error: DomainError) -> AlertCommandError:
    """The typed error for a domain error; one the API does not know yet is re-raised."""
    message = str(error)
    match error:
        case AlertNotFound():
            return AlertNotFoundError(message=message, alert_id=strawberry.ID(alert_id))
        case AlertIsClosed():
            return AlertClosedError(message=message, alert_id=strawberry.ID(alert_id))
        case AlertAlreadyAcknowledged():
            return AlertAlreadyAcknowledgedError(message=message, alert_id=strawberry.ID(alert_id))
        case InvalidCommand():
            return InvalidInputError(message=error.reason, field=error.field)
    raise error
