"""The EscalationPolicy aggregate and its documents: given events, when a command, then events or
an error; every refused document names the field path at fault, and in YAML its line."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.builders import T0
from vigil.domain.alert import Severity
from vigil.domain.errors import InvalidCommand
from vigil.domain.escalation_match import Comparison, Condition
from vigil.domain.escalation_policy import (
    DEFAULT_STOP,
    EscalationPolicy,
    PolicyDefinition,
    Repeat,
    StopCondition,
    duration_text,
    minutes,
    policy_id,
)
from vigil.infrastructure.yaml_documents import DocumentError, load_documents

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "card_escalations.yaml"


def card_document() -> dict[str, Any]:
    return {
        "name": "cards-critical",
        "description": "Critical card alerts.",
        "match": {
            "severity": {"at_least": "high"},
            "score": {"at_least": 0.9},
            "model_lines": ["cards-iforest"],
            "sources": ["cards"],
            "record": [{"field": "TX_AMOUNT", "at_least": 5000}],
            "entity": [{"field": "tx_count_1d", "above": 3}],
        },
        "steps": [
            {"after": "0m", "notify": ["on-call"]},
            {"after": "15m", "notify": ["team-lead"], "repeat": {"every": "1h", "times": 2}},
        ],
    }


def changed(path: list[str | int], value: object) -> dict[str, Any]:
    """The card document with the value at `path` replaced (or removed, for ...)."""
    document = copy.deepcopy(card_document())
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


@pytest.fixture
def defined_policy() -> EscalationPolicy:
    definition = PolicyDefinition.from_document(card_document())
    policy = EscalationPolicy.define("acme", "dana", T0, definition, note="first cut")
    policy.collect_events()
    return policy


@pytest.fixture
def disabled_policy(defined_policy: EscalationPolicy) -> EscalationPolicy:
    defined_policy.disable("dana", T0 + timedelta(minutes=1), "too noisy during the outage")
    defined_policy.collect_events()
    return defined_policy


# The aggregate --------------------------------------------------------------------------------


def test_defining_a_policy_records_who_when_and_its_definition() -> None:
    definition = PolicyDefinition.from_document(card_document())
    policy = EscalationPolicy.define("acme", "dana", T0, definition, note="first cut")
    (defined,) = policy.collect_events()
    assert isinstance(defined, EscalationPolicy.Defined)
    assert (defined.tenant_id, defined.actor, defined.timestamp) == ("acme", "dana", T0)
    assert (defined.definition, defined.note) == (definition.to_document(), "first cut")
    assert policy.id == policy_id("acme", "cards-critical")
    assert (policy.name, policy.revision, policy.enabled) == ("cards-critical", 1, True)
    assert policy.definition == definition


def test_a_policys_id_is_its_name_within_its_tenant() -> None:
    assert policy_id("acme", "cards-critical") == policy_id("acme", " cards-critical ")
    assert policy_id("acme", "cards-critical") != policy_id("umbrella", "cards-critical")
    assert policy_id("acme", "cards-critical") != policy_id("acme", "cards-high")


def test_changing_a_policy_records_its_next_revision(defined_policy: EscalationPolicy) -> None:
    later = PolicyDefinition.from_document(changed(["steps", 1, "after"], "20m"))
    assert defined_policy.change("erin", T0 + timedelta(hours=1), later, note="slower lead")
    (event,) = defined_policy.collect_events()
    assert isinstance(event, EscalationPolicy.Changed)
    assert (event.actor, event.revision, event.note) == ("erin", 2, "slower lead")
    assert defined_policy.definition.steps[1].after_minutes == 20
    assert (defined_policy.revision, defined_policy.changed_by) == (2, "erin")


def test_changing_a_policy_to_what_it_says_records_nothing(
    defined_policy: EscalationPolicy,
) -> None:
    same = PolicyDefinition.from_document(changed(["match", "severity"], ["high", "critical"]))
    assert not defined_policy.change("erin", T0, same)
    assert defined_policy.collect_events() == []
    assert defined_policy.revision == 1


def test_a_policy_is_not_changed_into_another_by_renaming_it(
    defined_policy: EscalationPolicy,
) -> None:
    other = PolicyDefinition.from_document(changed(["name"], "cards-high"))
    with pytest.raises(InvalidCommand) as refused:
        defined_policy.change("erin", T0, other)
    assert refused.value.field == "name"
    assert defined_policy.collect_events() == []


def test_disabling_a_policy_records_why(defined_policy: EscalationPolicy) -> None:
    defined_policy.disable("dana", T0, "too noisy during the outage")
    (event,) = defined_policy.collect_events()
    assert isinstance(event, EscalationPolicy.Disabled)
    assert (event.actor, event.reason) == ("dana", "too noisy during the outage")
    assert not defined_policy.enabled


def test_a_disabled_policy_cannot_be_disabled_again(disabled_policy: EscalationPolicy) -> None:
    with pytest.raises(InvalidCommand, match="disabled already"):
        disabled_policy.disable("dana", T0, "again")
    assert disabled_policy.collect_events() == []


def test_disabling_needs_a_reason(defined_policy: EscalationPolicy) -> None:
    with pytest.raises(InvalidCommand) as refused:
        defined_policy.disable("dana", T0, "  ")
    assert refused.value.field == "reason"


def test_a_disabled_policy_is_enabled_again_with_a_reason(
    disabled_policy: EscalationPolicy,
) -> None:
    disabled_policy.enable("dana", T0 + timedelta(hours=2), "outage over")
    (event,) = disabled_policy.collect_events()
    assert isinstance(event, EscalationPolicy.Enabled)
    assert event.reason == "outage over"
    assert disabled_policy.enabled


def test_an_enabled_policy_cannot_be_enabled(defined_policy: EscalationPolicy) -> None:
    with pytest.raises(InvalidCommand, match="enabled already"):
        defined_policy.enable("dana", T0, "just in case")


def test_changing_a_disabled_policy_leaves_it_disabled(disabled_policy: EscalationPolicy) -> None:
    later = PolicyDefinition.from_document(changed(["steps", 1, "after"], "20m"))
    assert disabled_policy.change("erin", T0, later)
    assert not disabled_policy.enabled


# The document ---------------------------------------------------------------------------------


def test_a_document_reads_as_its_definition() -> None:
    definition = PolicyDefinition.from_document(card_document())
    match = definition.match
    assert match.severities == (Severity.HIGH, Severity.CRITICAL)
    assert (match.score_at_least, match.score_at_most) == (0.9, None)
    assert (match.model_lines, match.sources) == (("cards-iforest",), ("cards",))
    assert match.record == (Condition("TX_AMOUNT", ((Comparison.AT_LEAST, 5000),)),)
    assert match.entity == (Condition("tx_count_1d", ((Comparison.ABOVE, 3),)),)
    assert [(s.after_minutes, s.notify) for s in definition.steps] == [
        (0, ("on-call",)),
        (15, ("team-lead",)),
    ]
    assert definition.steps[1].repeat == Repeat(every_minutes=60, times=2)


def test_a_definition_reads_back_from_the_document_it_writes() -> None:
    definition = PolicyDefinition.from_document(card_document())
    assert PolicyDefinition.from_document(definition.to_document()) == definition


def test_without_stop_conditions_a_policy_stops_on_acknowledged_linked_resolved_dismissed() -> None:
    definition = PolicyDefinition.from_document(card_document())
    assert definition.stop_when == DEFAULT_STOP
    assert StopCondition.ASSIGNED not in DEFAULT_STOP
    assigned = PolicyDefinition.from_document(changed(["stop_when"], ["assigned", "resolved"]))
    assert assigned.stop_when == {StopCondition.ASSIGNED, StopCondition.RESOLVED}


def test_every_severity_matches_as_no_severity_does() -> None:
    every = PolicyDefinition.from_document(changed(["match", "severity"], {"at_least": "medium"}))
    assert every.match.severities == ()
    assert "severity" not in every.to_document()["match"]


def test_a_document_with_no_match_watches_every_alert() -> None:
    definition = PolicyDefinition.from_document(changed(["match"], ...))
    assert definition.to_document()["match"] == {}


@pytest.mark.parametrize(
    ("written", "total"),
    [(0, 0), (15, 15), ("0m", 0), ("15m", 15), ("2h", 120), ("1h30m", 90), ("1d", 1440)],
)
def test_delays_are_written_in_minutes_hours_and_days(written: object, total: int) -> None:
    assert minutes("after", written) == total
    assert minutes("after", duration_text(total)) == total


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    [
        (["name"], ..., "name", "is required"),
        (["name"], "Cards Critical", "name", "is not a name"),
        (["priority"], "p1", "priority", "is not a known key"),
        (["match", "severity"], {"at_least": "urgent"}, "match.severity.at_least", "not one of"),
        (["match", "severity"], ["high", "severe"], "match.severity[1]", "not one of"),
        (["match", "severity"], "high", "match.severity", "at_least"),
        (["match", "score"], {"at_least": 0.9, "at_most": 0.5}, "match.score.at_most", "below"),
        (["match", "score"], {"at_least": "high"}, "match.score.at_least", "not a number"),
        (["match", "sources"], ["Cards!"], "match.sources[0]", "not a source name"),
        (["match", "model_lines"], ["a b"], "match.model_lines[0]", "not a model line name"),
        (["match", "model_lines"], ["x", "x"], "match.model_lines[1]", "listed twice"),
        (["match", "colour"], "red", "match.colour", "is not a known key"),
        (["match", "record", 0, "at_least"], "5,000", "match.record[0].at_least", "not a number"),
        (["match", "record", 0], {"field": "TX_AMOUNT"}, "match.record[0]", "at least one of"),
        (["match", "record", 0], {"above": 5}, "match.record[0].field", "must name a field"),
        (["match", "record", 0, ">="], 5, "match.record[0].>=", "is not a known key"),
        (["match", "record", 0], {"field": "MCC", "in": []}, "match.record[0].in", "list 1 to"),
        (["match", "entity", 0, "above"], [3], "match.entity[0].above", "not a number"),
        (["steps"], ..., "steps", "is required"),
        (["steps"], [], "steps", "1 to 20 steps"),
        (["steps", 1, "after"], "0m", "steps[1].after", "later than steps[0].after"),
        (["steps", 0, "after"], "15 minutes", "steps[0].after", "is not a delay"),
        (["steps", 0, "after"], "31d", "steps[0].after", "between 0m and 30d"),
        (["steps", 0], {"notify": ["on-call"]}, "steps[0].after", "is required"),
        (["steps", 0, "notify"], [], "steps[0].notify", "name 1 to 20"),
        (["steps", 0, "notify"], ["On Call!"], "steps[0].notify[0]", "is not a name"),
        (["steps", 1, "repeat", "every"], "0m", "steps[1].repeat.every", "at least 1m"),
        (["steps", 1, "repeat", "times"], 0, "steps[1].repeat.times", "from 1 to 100"),
        (["steps", 1, "repeat", "until"], "never", "steps[1].repeat.until", "not a known key"),
        (["stop_when"], ["acknowledged", "closed"], "stop_when[1]", "not one of"),
    ],
)
def test_a_refused_document_names_the_field_at_fault(
    path: list[str | int], value: object, field: str, reason: str
) -> None:
    with pytest.raises(InvalidCommand) as refused:
        PolicyDefinition.from_document(changed(path, value))
    assert refused.value.field == field
    assert reason in refused.value.reason


# YAML -----------------------------------------------------------------------------------------


def test_the_example_policies_read_as_the_card_escalations() -> None:
    critical, high = (
        document.parse(PolicyDefinition.from_document)
        for document in load_documents(EXAMPLE.read_text(), str(EXAMPLE))
    )
    assert critical.match.severities == (Severity.CRITICAL,)
    assert [(s.after_minutes, s.notify) for s in critical.steps] == [
        (0, ("on-call",)),
        (15, ("team-lead",)),
    ]
    assert high.match.severities == (Severity.HIGH,)
    assert high.match.record == (Condition("TX_AMOUNT", ((Comparison.ABOVE, 5000),)),)
    (step,) = high.steps
    assert (step.after_minutes, step.notify, step.repeat) == (30, ("fraud-team",), Repeat(60, 3))


POLICY_YAML = """\
name: cards-critical
match:
  sources: [cards]
  severity: {at_least: critical}
steps:
  - after: 0m
    notify: [on-call]
  - after: 15m
    notify: [team-lead]
    repeat:
      every: 1h
      times: lots
"""


def test_a_refused_yaml_document_names_its_line_and_field() -> None:
    (document,) = load_documents(POLICY_YAML, "policies.yaml")
    with pytest.raises(DocumentError) as refused:
        document.parse(PolicyDefinition.from_document)
    assert (refused.value.line, refused.value.field) == (12, "steps[1].repeat.times")
    assert str(refused.value).startswith("policies.yaml, line 12: steps[1].repeat.times:")


def test_a_missing_yaml_field_is_placed_at_the_line_of_what_encloses_it() -> None:
    text = POLICY_YAML.replace("  - after: 15m\n", "  - notify_later: true\n")
    (document,) = load_documents(text, "policies.yaml")
    with pytest.raises(DocumentError) as refused:
        document.parse(PolicyDefinition.from_document)
    assert (refused.value.line, refused.value.field) == (8, "steps[1].notify_later")


def test_a_yaml_delay_out_of_order_names_the_later_step() -> None:
    text = POLICY_YAML.replace("after: 15m", "after: 0m").replace("times: lots", "times: 3")
    (document,) = load_documents(text, "policies.yaml")
    with pytest.raises(DocumentError) as refused:
        document.parse(PolicyDefinition.from_document)
    assert (refused.value.line, refused.value.field) == (8, "steps[1].after")
