"""The read models the interfaces answer from, handed to them as one."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.application.alert_queue import AlertQueue
from vigil.application.case_list import CaseList
from vigil.application.entity_summary import EntitySummaries
from vigil.application.evidence import EvidenceBook
from vigil.application.label_book import LabelBook
from vigil.application.model_scores import ComparisonBook
from vigil.application.queues import QueueBoard
from vigil.application.source_catalogue import SourceCatalogue


@dataclass(frozen=True)
class ReadModels:
    """What GraphQL and the console read; they go to the event store only for timelines and
    one source's contract and history."""

    alert_queue: AlertQueue
    case_list: CaseList
    label_book: LabelBook
    entity_summaries: EntitySummaries
    queue_board: QueueBoard
    evidence_book: EvidenceBook
    source_catalogue: SourceCatalogue
    comparisons: ComparisonBook
