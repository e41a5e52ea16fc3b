"""The typed context every resolver receives: the use cases, the read model, who and for whom."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from vigil.application.alert_desk import TimelineEntry
from vigil.application.alert_queue import AlertQueue
from vigil.application.case_list import CaseList
from vigil.application.casework import Casework
from vigil.application.label_book import LabelBook
from vigil.application.read_models import ReadModels
from vigil.graphql.alerts.loaders import timeline_loader


class VigilContext(BaseContext, kw_only=True):
    """Built per request, so loaders never share a cache between callers or tenants."""

    alert_desk: Casework
    alert_queue: AlertQueue
    case_list: CaseList
    label_book: LabelBook
    tenant_id: str
    actor: str
    timelines: DataLoader[UUID, list[TimelineEntry]]


Info = strawberry.Info[VigilContext, None]


def make_context(
    alert_desk: Casework, read_models: ReadModels, tenant_id: str, actor: str
) -> VigilContext:
    return VigilContext(
        alert_desk=alert_desk,
        alert_queue=read_models.alert_queue,
        case_list=read_models.case_list,
        label_book=read_models.label_book,
        tenant_id=tenant_id,
        actor=actor,
        timelines=timeline_loader(alert_desk, tenant_id),
    )
