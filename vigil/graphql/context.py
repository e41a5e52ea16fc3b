"""The typed context every resolver receives: the use cases, the read model, who and for whom."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.litestar import BaseContext

from vigil.application.alert_desk import TimelineEntry
from vigil.application.alert_queue import AlertQueue, AlertRow
from vigil.application.case_list import CaseList, CaseRow
from vigil.application.casework import Casework
from vigil.application.domain_events import DomainEventFeed
from vigil.application.entity_summary import EntitySummaries
from vigil.application.evidence import CaseFileRow, CommentRow, EvidenceBook
from vigil.application.label_book import LabelBook, LabelRow
from vigil.application.model_scores import ComparisonBook
from vigil.application.model_training import ModelTraining
from vigil.application.permissions import Principal
from vigil.application.queues import QueueBoard
from vigil.application.read_models import ReadModels
from vigil.application.source_catalogue import SourceCatalogue
from vigil.application.source_desk import SourceDesk
from vigil.graphql.alerts.loaders import (
    case_alerts_loader,
    case_loader,
    standing_label_loader,
    timeline_loader,
)
from vigil.graphql.cases.loaders import case_files_loader, comments_loader
from vigil.graphql.sources.loaders import SourceContext, source_context


class VigilContext(BaseContext, kw_only=True):
    """Built per request, so loaders never share a cache between callers or tenants."""

    alert_desk: Casework
    alert_queue: AlertQueue
    case_list: CaseList
    label_book: LabelBook
    entity_summaries: EntitySummaries
    queue_board: QueueBoard
    evidence_book: EvidenceBook
    source_catalogue: SourceCatalogue
    comparisons: ComparisonBook
    tenant_id: str
    actor: str
    timelines: DataLoader[UUID, list[TimelineEntry]]
    cases: DataLoader[UUID, CaseRow | None]
    case_alerts: DataLoader[UUID, list[AlertRow]]
    standing_labels: DataLoader[UUID, LabelRow | None]
    comments: DataLoader[UUID, list[CommentRow]]
    case_files: DataLoader[UUID, list[CaseFileRow]]
    domain_events: DomainEventFeed | None = None
    """Live domain events for subscriptions; None when the server runs without NATS."""
    principal: Principal | None = None
    """Who is asking; None for a request that proved nobody, which every root field refuses."""
    sources: SourceContext | None = None
    """Data-source documents and dead letters; None when the server was built without them."""
    training: ModelTraining | None = None
    """Training over the API; None when the server was built without it."""


Info = strawberry.Info[VigilContext, None]


def make_context(
    alert_desk: Casework,
    read_models: ReadModels,
    tenant_id: str,
    actor: str,
    domain_events: DomainEventFeed | None = None,
    principal: Principal | None = None,
    sources: SourceDesk | None = None,
    training: ModelTraining | None = None,
) -> VigilContext:
    return VigilContext(
        alert_desk=alert_desk,
        alert_queue=read_models.alert_queue,
        case_list=read_models.case_list,
        label_book=read_models.label_book,
        entity_summaries=read_models.entity_summaries,
        queue_board=read_models.queue_board,
        evidence_book=read_models.evidence_book,
        source_catalogue=read_models.source_catalogue,
        comparisons=read_models.comparisons,
        tenant_id=tenant_id,
        actor=actor,
        timelines=timeline_loader(alert_desk, tenant_id),
        cases=case_loader(read_models.case_list, tenant_id),
        case_alerts=case_alerts_loader(read_models.alert_queue, tenant_id),
        standing_labels=standing_label_loader(read_models.label_book, tenant_id),
        comments=comments_loader(read_models.evidence_book, tenant_id),
        case_files=case_files_loader(read_models.evidence_book, tenant_id),
        domain_events=domain_events,
        principal=principal,
        sources=None if sources is None else source_context(sources, tenant_id),
        training=training,
    )
