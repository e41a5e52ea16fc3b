"""The Label aggregate: ground truth about a record or an entity, and where it came from.

One Label aggregate per subject (a record or an entity of a source); every verdict ever given is
an event on it, and the latest one stands until revoked. These are what the next model learns.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from vigil.domain.case import Disposition
from vigil.domain.errors import InvalidCommand, LabelNotApplied
from vigil.domain.stamps import event_stamp
from vigil.domain.text import required_text

LABEL_NAMESPACE = UUID("3b8e4f1a-2c6d-5a7e-9f0b-1d2c3e4f5a6b")


class SubjectKind(StrEnum):
    RECORD = "record"
    ENTITY = "entity"


class Verdict(StrEnum):
    FRAUD = "fraud"
    LEGIT = "legit"


class LabelSource(StrEnum):
    ANALYST = "analyst"
    CASE_DISPOSITION = "case_disposition"
    CHARGEBACK = "chargeback"
    IMPORT = "import"


VERDICT_OF_DISPOSITION: dict[Disposition, Verdict | None] = {
    Disposition.CONFIRMED_FRAUD: Verdict.FRAUD,
    Disposition.FALSE_POSITIVE: Verdict.LEGIT,
    Disposition.INCONCLUSIVE: None,
}
"""What closing a case says about the records of its alerts; inconclusive says nothing."""


def label_id(tenant_id: str, source: str, kind: SubjectKind, subject_id: str) -> UUID:
    """One label history per subject, whoever labels it first."""
    return uuid5(LABEL_NAMESPACE, f"{tenant_id}\x1f{source}\x1f{kind}\x1f{subject_id}")


class Label(Aggregate):
    """Every verdict given on one record or entity; the latest stands unless revoked."""

    class Event(Aggregate.Event):
        tenant_id: str
        actor: str

    class SubjectNamed(Event, Aggregate.Created):
        source: str
        kind: str
        subject_id: str

    def __init__(self, tenant_id: str, actor: str, source: str, kind: str, subject_id: str) -> None:
        self.tenant_id = tenant_id
        self.source = source
        self.kind = SubjectKind(kind)
        self.subject_id = subject_id
        self.verdict: Verdict | None = None
        self.label_source: LabelSource | None = None
        self.labelled_by: str | None = None
        self.labelled_at: datetime | None = None
        self.provenance: dict[str, Any] = {}

    @classmethod
    def for_subject(
        cls,
        tenant_id: str,
        source: str,
        kind: SubjectKind,
        subject_id: str,
        actor: str,
        at: datetime,
    ) -> Label:
        """A subject's label history, before its first verdict; saved together with it."""
        return cls._create(
            cls.SubjectNamed,
            id=label_id(tenant_id, source, kind, subject_id),
            timestamp=at,
            tenant_id=tenant_id,
            actor=required_text("actor", actor),
            source=required_text("source", source),
            kind=str(kind),
            subject_id=required_text("subject_id", subject_id),
        )

    def apply_verdict(
        self,
        actor: str,
        at: datetime,
        verdict: Verdict,
        source: LabelSource,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        """A new verdict replaces the standing one; giving the same verdict again adds nothing."""
        if (verdict, source) == (self.verdict, self.label_source):
            raise InvalidCommand("verdict", f"{self.subject_id} is already labelled {verdict}")
        self.trigger_event(
            self.Applied,
            **self._stamp(actor, at),
            verdict=str(verdict),
            label_source=str(source),
            provenance=dict(provenance or {}),
        )

    def revoke(self, actor: str, at: datetime, reason: str) -> None:
        if self.verdict is None:
            raise LabelNotApplied(f"{self.kind} {self.subject_id} has no label to revoke")
        self.trigger_event(
            self.Revoked, **self._stamp(actor, at), reason=required_text("reason", reason)
        )

    def _stamp(self, actor: str, at: datetime) -> dict[str, Any]:
        return event_stamp(self.tenant_id, actor, at)

    class Applied(Event):
        verdict: str
        label_source: str
        provenance: dict[str, Any]

        def apply(self, label: Label) -> None:
            label.verdict = Verdict(self.verdict)
            label.label_source = LabelSource(self.label_source)
            label.labelled_by = self.actor
            label.labelled_at = self.timestamp
            label.provenance = dict(self.provenance)

    class Revoked(Event):
        reason: str

        def apply(self, label: Label) -> None:
            label.verdict = None
            label.label_source = None
            label.labelled_by = None
            label.labelled_at = None
            label.provenance = {}
