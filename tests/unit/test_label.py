"""The Label aggregate: verdicts on a record or an entity, the latest standing until revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders import T0
from vigil.domain.case import Disposition
from vigil.domain.errors import InvalidCommand, LabelNotApplied
from vigil.domain.label import (
    VERDICT_OF_DISPOSITION,
    Label,
    LabelSource,
    SubjectKind,
    Verdict,
    label_id,
)


@pytest.fixture
def unlabelled_record() -> Label:
    label = Label.for_subject("acme", "cards", SubjectKind.RECORD, "tx-17", "ann", T0)
    label.collect_events()
    return label


@pytest.fixture
def fraud_record(unlabelled_record: Label) -> Label:
    unlabelled_record.apply_verdict("ann", T0, Verdict.FRAUD, LabelSource.ANALYST)
    unlabelled_record.collect_events()
    return unlabelled_record


def test_each_subject_has_one_label_history_whoever_labels_it_first() -> None:
    by_analyst = Label.for_subject("acme", "cards", SubjectKind.RECORD, "tx-17", "ann", T0)
    by_import = Label.for_subject("acme", "cards", SubjectKind.RECORD, "tx-17", "import", T0)
    assert by_analyst.id == by_import.id == label_id("acme", "cards", SubjectKind.RECORD, "tx-17")
    entity = label_id("acme", "cards", SubjectKind.ENTITY, "tx-17")
    other_tenant = label_id("globex", "cards", SubjectKind.RECORD, "tx-17")
    assert len({by_analyst.id, entity, other_tenant}) == 3


def test_a_verdict_records_who_when_from_where_and_with_what_provenance(
    unlabelled_record: Label,
) -> None:
    unlabelled_record.apply_verdict(
        "case:42", T0, Verdict.FRAUD, LabelSource.CASE_DISPOSITION, {"case_id": "42"}
    )
    (applied,) = unlabelled_record.collect_events()
    assert isinstance(applied, Label.Applied)
    assert (applied.actor, applied.timestamp, applied.tenant_id) == ("case:42", T0, "acme")
    assert applied.provenance == {"case_id": "42"}
    assert (unlabelled_record.verdict, unlabelled_record.label_source) == (
        Verdict.FRAUD,
        LabelSource.CASE_DISPOSITION,
    )


def test_the_latest_verdict_wins(fraud_record: Label) -> None:
    fraud_record.apply_verdict(
        "bank", T0 + timedelta(days=40), Verdict.LEGIT, LabelSource.CHARGEBACK
    )
    assert (fraud_record.verdict, fraud_record.labelled_by) == (Verdict.LEGIT, "bank")


def test_the_same_verdict_from_the_same_source_adds_nothing(fraud_record: Label) -> None:
    with pytest.raises(InvalidCommand, match="already labelled fraud"):
        fraud_record.apply_verdict("bob", T0, Verdict.FRAUD, LabelSource.ANALYST)
    assert fraud_record.collect_events() == []


def test_a_revoked_label_leaves_the_subject_unlabelled(fraud_record: Label) -> None:
    fraud_record.revoke("lead", T0, "labelled the wrong transaction")
    assert fraud_record.verdict is None
    with pytest.raises(LabelNotApplied):
        fraud_record.revoke("lead", T0, "twice")


def test_a_revocation_needs_a_reason(fraud_record: Label) -> None:
    with pytest.raises(InvalidCommand) as caught:
        fraud_record.revoke("lead", T0, "")
    assert caught.value.field == "reason"


def test_a_case_disposition_says_fraud_legit_or_nothing() -> None:
    assert VERDICT_OF_DISPOSITION == {
        Disposition.CONFIRMED_FRAUD: Verdict.FRAUD,
        Disposition.FALSE_POSITIVE: Verdict.LEGIT,
        Disposition.INCONCLUSIVE: None,
    }
