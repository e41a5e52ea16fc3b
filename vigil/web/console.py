"""The analyst console: the alert queue, one alert's page, and the Acknowledge form."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from uuid import UUID

import anyio.to_thread
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, SkipValidation, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_303_SEE_OTHER,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
)

from vigil.application.alert_desk import AlertDesk
from vigil.application.alert_queue import AlertQueue, AlertQueueFilter
from vigil.application.permissions import Permission
from vigil.domain.alert import AlertStatus, Severity
from vigil.domain.errors import AlertNotFound, DomainError, InvalidCommand
from vigil.web.alert_pages import AlertDetail, alert_detail, choice, queue_view
from vigil.web.auth import requires

# Litestar checks injected values against their annotations, which a Protocol cannot answer;
# these come from the composition root, so there is nothing to validate.
Queue = NamedDependency[SkipValidation[AlertQueue]]
Desk = NamedDependency[SkipValidation[AlertDesk]]
Tenant = NamedDependency[str]
Actor = NamedDependency[str]


@dataclass
class AcknowledgeForm:
    note: str = ""


@dataclass
class RevealForm:
    reason: str = ""


def _alert_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFoundException(f"alert {value} does not exist") from None


async def _detail_or_404(
    queue: AlertQueue, desk: AlertDesk, tenant_id: str, alert_id: UUID
) -> AlertDetail:
    detail = await alert_detail(queue, desk, tenant_id, alert_id)
    if detail is None:
        raise NotFoundException(f"alert {alert_id} does not exist")
    return detail


class AlertConsole(Controller):
    path = "/"
    include_in_schema = False
    guards = [requires(Permission.ALERTS_READ)]

    @get("/", name="alert-queue")
    async def queue(
        self,
        alert_queue: Queue,
        tenant_id: Tenant,
        status: FromQuery[str | None] = None,
        severity: FromQuery[str | None] = None,
        after: FromQuery[str | None] = None,
    ) -> Template:
        try:
            filters = AlertQueueFilter(
                tenant_id,
                status=choice("status", status, AlertStatus),
                severity=choice("severity", severity, Severity),
            )
            view = await queue_view(alert_queue, filters, after or None)
        except (ValueError, InvalidCommand) as error:
            raise ValidationException(str(error)) from None
        return Template("queue.html", context={"view": view})

    @get("/alerts/{alert_id:str}", name="alert-detail")
    async def detail(
        self, alert_id: FromPath[str], alert_queue: Queue, alert_desk: Desk, tenant_id: Tenant
    ) -> Template:
        alert = await _detail_or_404(alert_queue, alert_desk, tenant_id, _alert_id(alert_id))
        return Template("alert.html", context={"alert": alert, "error": None})

    @post(
        "/alerts/{alert_id:str}/acknowledge",
        name="alert-acknowledge",
        guards=[requires(Permission.ALERTS_ACT)],
    )
    async def acknowledge(
        self,
        alert_id: FromPath[str],
        data: URLEncodedBody[AcknowledgeForm],
        alert_queue: Queue,
        alert_desk: Desk,
        tenant_id: Tenant,
        actor: Actor,
    ) -> Redirect | Template:
        uuid = _alert_id(alert_id)
        command = partial(alert_desk.acknowledge, tenant_id, uuid, actor, data.note)
        try:
            await anyio.to_thread.run_sync(command)
        except AlertNotFound:
            raise NotFoundException(f"alert {alert_id} does not exist") from None
        except DomainError as error:
            # Shown next to the form it came from; nothing was recorded, so no redirect.
            alert = await _detail_or_404(alert_queue, alert_desk, tenant_id, uuid)
            status = (
                HTTP_422_UNPROCESSABLE_ENTITY
                if isinstance(error, InvalidCommand)
                else HTTP_409_CONFLICT
            )
            return Template(
                "alert.html", context={"alert": alert, "error": str(error)}, status_code=status
            )
        return Redirect(f"/alerts/{uuid}", status_code=HTTP_303_SEE_OTHER)

    @post(
        "/alerts/{alert_id:str}/reveal",
        name="alert-reveal",
        guards=[requires(Permission.PII_REVEAL)],
    )
    async def reveal(
        self,
        alert_id: FromPath[str],
        data: URLEncodedBody[RevealForm],
        alert_queue: Queue,
        alert_desk: Desk,
        tenant_id: Tenant,
        actor: Actor,
    ) -> Template:
        """The page with the record's personal fields in clear, this once; the reveal is on
        the timeline, and reloading the page masks them again."""
        uuid = _alert_id(alert_id)
        alert = await _detail_or_404(alert_queue, alert_desk, tenant_id, uuid)
        reveal = partial(
            alert_desk.reveal_personal_data, tenant_id, uuid, actor, alert.personal, data.reason
        )
        try:
            values = await anyio.to_thread.run_sync(reveal)
        except InvalidCommand as error:
            context = {"alert": alert, "reveal_error": str(error), "error": None}
            return Template(
                "alert.html", context=context, status_code=HTTP_422_UNPROCESSABLE_ENTITY
            )
        shown = replace(
            await _detail_or_404(alert_queue, alert_desk, tenant_id, uuid), revealed=values
        )
        return Template("alert.html", context={"alert": shown, "error": None})
