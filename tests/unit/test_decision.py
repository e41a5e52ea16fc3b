"""Deciding on a record: how raise, suppress and grade rules combine with the model's severity."""

from __future__ import annotations

import pytest

from tests.builders import T0
from vigil.domain.alert import Severity
from vigil.domain.decision import (
    SEVERITY_ORDER,
    CompiledRules,
    Decision,
    compile_rules,
    severity_rank,
)
from vigil.domain.rule_set import Rule, RuleAction, RuleSet

MEDIUM, HIGH, CRITICAL = Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL
MODEL_SEVERITIES = [None, MEDIUM, HIGH, CRITICAL]


def raising(name: str, expression: str, severity: Severity) -> Rule:
    return Rule(name, expression, RuleAction.RAISE, severity)


def grading(name: str, expression: str, severity: Severity) -> Rule:
    return Rule(name, expression, RuleAction.GRADE, severity)


def suppressing(name: str, expression: str) -> Rule:
    return Rule(name, expression, RuleAction.SUPPRESS)


def published(*rules: Rule) -> CompiledRules:
    rule_set = RuleSet.start("acme", "maya", T0, "cards", list(rules))
    rule_set.publish("lead", T0, 1, "go")
    assert rule_set.published is not None
    return compile_rules(rule_set.published)


def test_severities_rank_medium_below_high_below_critical() -> None:
    assert [severity_rank(s) for s in (MEDIUM, HIGH, CRITICAL)] == [0, 1, 2]
    assert SEVERITY_ORDER == (MEDIUM, HIGH, CRITICAL)
    assert sorted([CRITICAL, MEDIUM, HIGH], key=severity_rank) == list(SEVERITY_ORDER)


@pytest.mark.parametrize("model", MODEL_SEVERITIES)
def test_when_no_rule_fires_the_models_severity_stands(model: Severity | None) -> None:
    rules = published(raising("large", "amount > 5000", CRITICAL), suppressing("vip", "vip"))
    assert rules.decide({"amount": 10}, model) == Decision(model)


@pytest.mark.parametrize("model", MODEL_SEVERITIES)
def test_a_suppress_hit_means_no_alert_whatever_else_fired(model: Severity | None) -> None:
    rules = published(
        raising("large", "amount > 5000", CRITICAL),
        suppressing("test-card", "starts_with(card, 'TEST')"),
        grading("burst", "count >= 5", HIGH),
        suppressing("vip", "vip"),
    )
    decision = rules.decide({"amount": 9000, "card": "TEST-1", "count": 9, "vip": True}, model)
    assert decision == Decision(None, ("large", "test-card", "burst", "vip"), "test-card")
    assert not decision.alerts


@pytest.mark.parametrize(
    ("model", "graded"),
    [(MEDIUM, HIGH), (HIGH, HIGH), (CRITICAL, HIGH)],
    ids=["raises-the-grade", "keeps-it", "lowers-it"],
)
def test_a_grade_hit_sets_the_severity_of_an_alert_even_below_the_models(
    model: Severity, graded: Severity
) -> None:
    rules = published(grading("known-merchant", "merchant == 'm-1'", HIGH))
    assert rules.decide({"merchant": "m-1"}, model) == Decision(graded, ("known-merchant",))


def test_a_grade_hit_alone_raises_no_alert() -> None:
    rules = published(grading("burst", "count >= 5", CRITICAL))
    assert rules.decide({"count": 9}, None) == Decision(None, ("burst",))


def test_several_grade_hits_grade_to_the_highest_of_them() -> None:
    rules = published(
        grading("a", "true", MEDIUM), grading("b", "true", HIGH), grading("c", "false", CRITICAL)
    )
    assert rules.decide({}, CRITICAL) == Decision(HIGH, ("a", "b"))


@pytest.mark.parametrize(
    ("model", "expected"),
    [(None, HIGH), (MEDIUM, HIGH), (HIGH, HIGH), (CRITICAL, CRITICAL)],
)
def test_a_raise_hit_alerts_at_least_at_its_severity(
    model: Severity | None, expected: Severity
) -> None:
    rules = published(raising("large", "amount > 5000", HIGH))
    assert rules.decide({"amount": 9000}, model) == Decision(expected, ("large",))


def test_several_raise_hits_raise_to_the_highest_of_them() -> None:
    rules = published(
        raising("a", "amount > 100", MEDIUM),
        raising("b", "amount > 1000", CRITICAL),
        raising("c", "amount > 500", HIGH),
    )
    assert rules.decide({"amount": 2000}, None) == Decision(CRITICAL, ("a", "b", "c"))


def test_raise_hits_are_a_floor_under_the_graded_severity() -> None:
    rules = published(grading("known", "true", MEDIUM), raising("large", "true", HIGH))
    assert rules.decide({}, CRITICAL) == Decision(HIGH, ("known", "large"))
    lower_floor = published(grading("known", "true", HIGH), raising("large", "true", MEDIUM))
    assert lower_floor.decide({}, CRITICAL) == Decision(HIGH, ("known", "large"))


def test_a_rule_that_cannot_be_evaluated_counts_as_not_firing_and_says_why() -> None:
    rules = published(
        raising("typo", "country > 3", CRITICAL),
        suppressing("odd", "amount"),
        raising("large", "amount > 5000", HIGH),
    )
    decision = rules.decide({"country": "FR", "amount": 9000}, None)
    assert decision == Decision(
        HIGH,
        ("large",),
        None,
        (
            ("typo", "column 9: '>' cannot compare a string with a number"),
            ("odd", "the rule gave a number, not true, false or null"),
        ),
    )


def test_a_rule_on_a_missing_field_does_not_fire() -> None:
    rules = published(suppressing("vip", "not (tier == 'gold')"), raising("r", "x > 1", HIGH))
    assert rules.decide({}, MEDIUM) == Decision(MEDIUM)


def test_compiled_rules_know_their_version_and_every_name_they_read() -> None:
    rules = published(
        raising("large", "amount > 3 * features.mean_30d", HIGH), suppressing("vip", "vip")
    )
    assert rules.version == 1
    assert rules.names == {"amount", "features.mean_30d", "vip"}
    assert [rule.name for rule in rules.rules] == ["large", "vip"]
