"""The RuleSet aggregate: given events, when a command, then new events or a domain error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar
from uuid import UUID

import pytest
from eventsourcing.application import Application
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import T0
from vigil.domain.alert import Severity
from vigil.domain.errors import (
    DomainError,
    IllegalRuleStage,
    InvalidCommand,
    RuleSyntaxError,
    RuleVersionIsRetired,
    RuleVersionNotFound,
)
from vigil.domain.rule_set import MAX_RULES, Rule, RuleAction, RuleSet, Stage, rule_set_id

LARGE = Rule("large-amount", "amount > 5000", RuleAction.RAISE, Severity.HIGH, "Over 5,000 EUR")
BURST = Rule("burst_1h", "features.count_1h >= 10", RuleAction.GRADE, Severity.CRITICAL)
TRUSTED = Rule("trusted", "merchant_id in ['m-1', 'm-2']", RuleAction.SUPPRESS)
LATER = T0 + timedelta(hours=1)
E = TypeVar("E", bound=Exception)


def started(rules: tuple[Rule, ...] = (LARGE, BURST)) -> RuleSet:
    rule_set = RuleSet.start("acme", "maya", T0, "cards", list(rules), "first cut")
    rule_set.collect_events()
    return rule_set


@pytest.fixture
def drafted_rule_set() -> RuleSet:
    """Version 1 drafted."""
    return started()


@pytest.fixture
def published_rule_set(drafted_rule_set: RuleSet) -> RuleSet:
    """Version 1 published, version 2 drafted."""
    drafted_rule_set.publish("lead", T0, 1, "reviewed with the fraud team")
    drafted_rule_set.draft("maya", T0, [LARGE, BURST, TRUSTED], "trust two merchants")
    drafted_rule_set.collect_events()
    return drafted_rule_set


def refused_without_events(
    rule_set: RuleSet, error: type[E], command: Callable[[RuleSet], object]
) -> E:
    with pytest.raises(error) as refused:
        command(rule_set)
    assert rule_set.collect_events() == []
    return refused.value


def test_starting_a_rule_set_records_the_start_and_the_first_draft() -> None:
    rule_set = RuleSet.start("acme", "maya", T0, "cards", [LARGE, TRUSTED], "first cut")
    begun, drafted = rule_set.collect_events()
    assert isinstance(begun, RuleSet.Started)
    assert (begun.tenant_id, begun.actor, begun.source, begun.timestamp) == (
        "acme",
        "maya",
        "cards",
        T0,
    )
    assert isinstance(drafted, RuleSet.VersionDrafted)
    assert (drafted.version, drafted.note, drafted.actor, drafted.tenant_id) == (
        1,
        "first cut",
        "maya",
        "acme",
    )
    assert drafted.rules == [
        {
            "name": "large-amount",
            "expression": "amount > 5000",
            "action": "raise",
            "severity": "high",
            "description": "Over 5,000 EUR",
        },
        {
            "name": "trusted",
            "expression": "merchant_id in ['m-1', 'm-2']",
            "action": "suppress",
            "severity": None,
            "description": "",
        },
    ]
    assert rule_set.published is None
    assert rule_set.rule_version(1).stage is Stage.DRAFT


def test_a_rule_set_is_one_per_tenant_and_source() -> None:
    assert started().id == rule_set_id("acme", "cards")
    assert rule_set_id("acme", "cards") not in {
        rule_set_id("other", "cards"),
        rule_set_id("acme", "wires"),
    }


def test_rules_survive_the_trip_through_plain_dicts() -> None:
    for rule in (LARGE, BURST, TRUSTED):
        assert Rule.from_dict(rule.as_dict()) == rule


def test_drafting_numbers_versions_in_turn_and_remembers_who_and_when(
    drafted_rule_set: RuleSet,
) -> None:
    assert drafted_rule_set.draft("omar", LATER, [TRUSTED], "suppress only") == 2
    (drafted,) = drafted_rule_set.collect_events()
    assert isinstance(drafted, RuleSet.VersionDrafted)
    second = drafted_rule_set.rule_version(2)
    assert (second.number, second.rules, second.note) == (2, (TRUSTED,), "suppress only")
    assert (second.drafted_by, second.drafted_at, second.stage) == ("omar", LATER, Stage.DRAFT)
    assert drafted_rule_set.rule_version(1).rules == (LARGE, BURST)


def test_a_draft_normalises_its_rules() -> None:
    loose = Rule(" large ", "  amount > 1  ", "raise", "medium", "  why  ")  # type: ignore[arg-type]
    rule_set = started((loose,))
    assert rule_set.latest.rules == (
        Rule("large", "amount > 1", RuleAction.RAISE, Severity.MEDIUM, "why"),
    )


@pytest.mark.parametrize(
    ("rules", "field", "reason"),
    [
        ([], "rules", "a version holds 1 to 200 rules, not 0"),
        ([LARGE] * (MAX_RULES + 1), "rules", "a version holds 1 to 200 rules, not 201"),
        ([LARGE, BURST, LARGE], "rules[2].name", "rules[0] is named large-amount"),
        ([Rule("Big Amount", "true", RuleAction.SUPPRESS)], "rules[0].name", "is not a rule name"),
        ([Rule("x" * 65, "true", RuleAction.SUPPRESS)], "rules[0].name", "is not a rule name"),
        ([Rule("", "true", RuleAction.SUPPRESS)], "rules[0].name", "is not a rule name"),
        (
            [LARGE, Rule("bad", "amount >", RuleAction.SUPPRESS)],
            "rules[1].expression",
            "column 9: expected a value after '>'",
        ),
        ([Rule("r", "true", RuleAction.RAISE)], "rules[0].severity", "needs medium, high or"),
        ([Rule("r", "true", RuleAction.GRADE)], "rules[0].severity", "needs medium, high or"),
        (
            [Rule("r", "true", RuleAction.SUPPRESS, Severity.HIGH)],
            "rules[0].severity",
            "a suppress rule gives no severity",
        ),
        ([Rule("r", "true", "block")], "rules[0].action", "'block' is not one of raise"),  # type: ignore[arg-type]
        (
            [Rule("r", "true", RuleAction.RAISE, "urgent")],  # type: ignore[arg-type]
            "rules[0].severity",
            "'urgent' is not one of medium, high, critical",
        ),
        (
            [Rule("r", "true", RuleAction.SUPPRESS, None, "d" * 4001)],
            "rules[0].description",
            "at most 4000",
        ),
    ],
)
def test_a_draft_with_rules_that_cannot_work_is_refused_naming_the_rule_and_field(
    drafted_rule_set: RuleSet, rules: list[Rule], field: str, reason: str
) -> None:
    refused = refused_without_events(
        drafted_rule_set, InvalidCommand, lambda rs: rs.draft("maya", T0, rules)
    )
    assert refused.field == field
    assert reason in refused.reason
    assert list(drafted_rule_set.versions) == [1]


def test_a_bad_expression_is_refused_as_a_syntax_error_when_starting_and_nothing_starts() -> None:
    with pytest.raises(RuleSyntaxError) as refused:
        RuleSet.start("acme", "maya", T0, "cards", [Rule("r", "max(a", RuleAction.SUPPRESS)])
    assert refused.value.field == "rules[0].expression"


def test_publishing_a_draft_makes_it_the_deciding_version(drafted_rule_set: RuleSet) -> None:
    drafted_rule_set.publish("lead", LATER, 1, "reviewed")
    (published,) = drafted_rule_set.collect_events()
    assert isinstance(published, RuleSet.Published)
    assert (published.version, published.reason, published.replaced) == (1, "reviewed", None)
    assert (published.actor, published.timestamp) == ("lead", LATER)
    assert drafted_rule_set.published == drafted_rule_set.rule_version(1)
    assert drafted_rule_set.rule_version(1).stage is Stage.PUBLISHED


def test_publishing_retires_the_version_it_replaces_in_the_same_event(
    published_rule_set: RuleSet,
) -> None:
    published_rule_set.publish("lead", LATER, 2, "trusted merchants agreed")
    (published,) = published_rule_set.collect_events()
    assert isinstance(published, RuleSet.Published)
    assert (published.version, published.replaced) == (2, 1)
    assert published_rule_set.rule_version(1).stage is Stage.RETIRED
    assert published_rule_set.published == published_rule_set.rule_version(2)


def test_a_shadow_version_can_be_published(published_rule_set: RuleSet) -> None:
    published_rule_set.shadow("lead", T0, 2, "compare for a week")
    assert [v.number for v in published_rule_set.shadows] == [2]
    published_rule_set.publish("lead", LATER, 2, "shadow looked good")
    events = published_rule_set.collect_events()
    assert [type(e).__name__ for e in events] == ["Shadowed", "Published"]
    assert published_rule_set.shadows == ()
    assert published_rule_set.published == published_rule_set.rule_version(2)


def test_several_drafts_can_be_in_shadow_beside_the_published_version(
    published_rule_set: RuleSet,
) -> None:
    published_rule_set.draft("maya", T0, [BURST])
    published_rule_set.shadow("lead", T0, 2, "a")
    published_rule_set.shadow("lead", T0, 3, "b")
    assert [v.number for v in published_rule_set.shadows] == [2, 3]
    assert published_rule_set.published is not None
    assert published_rule_set.published.number == 1


def test_the_published_version_cannot_be_published_again(published_rule_set: RuleSet) -> None:
    refused = refused_without_events(
        published_rule_set, IllegalRuleStage, lambda rs: rs.publish("lead", T0, 1, "again")
    )
    assert str(refused) == "version 1 is published already"


@pytest.mark.parametrize("version", [1, 2], ids=["published", "shadow"])
def test_only_a_draft_goes_into_shadow(published_rule_set: RuleSet, version: int) -> None:
    published_rule_set.shadow("lead", T0, 2, "compare")
    published_rule_set.collect_events()
    refused = refused_without_events(
        published_rule_set, IllegalRuleStage, lambda rs: rs.shadow("lead", T0, version, "x")
    )
    assert "only a draft goes into shadow" in str(refused)


def test_a_retired_version_cannot_be_published(published_rule_set: RuleSet) -> None:
    published_rule_set.retire("lead", T0, 2, "superseded")
    published_rule_set.collect_events()
    refused = refused_without_events(
        published_rule_set, RuleVersionIsRetired, lambda rs: rs.publish("lead", T0, 2, "back")
    )
    assert str(refused) == "version 2 is retired and cannot be published; draft a copy"


def test_a_retired_version_cannot_be_shadowed(published_rule_set: RuleSet) -> None:
    published_rule_set.retire("lead", T0, 2, "superseded")
    published_rule_set.collect_events()
    refused_without_events(
        published_rule_set, RuleVersionIsRetired, lambda rs: rs.shadow("lead", T0, 2, "back")
    )


def test_a_retired_version_cannot_be_retired_again(published_rule_set: RuleSet) -> None:
    published_rule_set.retire("lead", T0, 2, "superseded")
    published_rule_set.collect_events()
    refused = refused_without_events(
        published_rule_set, RuleVersionIsRetired, lambda rs: rs.retire("lead", T0, 2, "again")
    )
    assert str(refused) == "version 2 is retired already"


def test_a_retired_version_comes_back_as_a_new_draft_of_its_rules(
    published_rule_set: RuleSet,
) -> None:
    published_rule_set.publish("lead", T0, 2, "newer")
    copy = published_rule_set.draft("lead", T0, published_rule_set.rule_version(1).rules, "back")
    published_rule_set.publish("lead", T0, copy, "the newer rules were too noisy")
    assert published_rule_set.published == published_rule_set.rule_version(3)
    assert published_rule_set.rule_version(3).rules == published_rule_set.rule_version(1).rules


def test_retiring_the_published_version_leaves_none_deciding(published_rule_set: RuleSet) -> None:
    published_rule_set.retire("lead", LATER, 1, "rules off during the incident")
    (retired,) = published_rule_set.collect_events()
    assert isinstance(retired, RuleSet.Retired)
    assert (retired.version, retired.reason, retired.actor) == (
        1,
        "rules off during the incident",
        "lead",
    )
    assert published_rule_set.published is None


@pytest.mark.parametrize(
    "command",
    [
        lambda rs: rs.publish("lead", T0, 7, "x"),
        lambda rs: rs.shadow("lead", T0, 7, "x"),
        lambda rs: rs.retire("lead", T0, 7, "x"),
    ],
    ids=["publish", "shadow", "retire"],
)
def test_an_unknown_version_is_refused_naming_it(
    published_rule_set: RuleSet, command: Callable[[RuleSet], object]
) -> None:
    refused = refused_without_events(published_rule_set, RuleVersionNotFound, command)
    assert (refused.version, str(refused)) == (7, "rule set has no version 7")


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda rs: rs.publish("lead", T0, 2, "  "), "reason"),
        (lambda rs: rs.shadow("lead", T0, 2, "r" * 4001), "reason"),
        (lambda rs: rs.retire("", T0, 2, "why"), "actor"),
        (lambda rs: rs.draft("maya", T0, [LARGE], "n" * 4001), "note"),
    ],
)
def test_reasons_notes_and_actors_are_bounded_and_required_where_they_matter(
    published_rule_set: RuleSet, command: Callable[[RuleSet], object], field: str
) -> None:
    refused = refused_without_events(published_rule_set, InvalidCommand, command)
    assert refused.field == field


def test_a_rule_set_is_stored_and_read_back_unchanged() -> None:
    rule_set = RuleSet.start("acme", "maya", T0, "cards", [LARGE, TRUSTED])
    rule_set.publish("lead", T0, 1, "go")
    rule_set.shadow("lead", LATER, rule_set.draft("maya", LATER, [BURST]), "compare")
    rule_set.publish("lead", LATER, rule_set.draft("maya", LATER, [TRUSTED]), "go")
    app: Application[UUID] = Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.save(rule_set)
    assert app.repository.get(rule_set.id) == rule_set


# Any sequence of commands either applies or is refused, and replay gives the same state. ---------

COMMANDS = st.sampled_from(
    [
        lambda rs, t, v: rs.draft("maya", t, [LARGE, BURST]),
        lambda rs, t, v: rs.draft("maya", t, [TRUSTED], "only suppress"),
        lambda rs, t, v: rs.draft("maya", t, [LARGE, LARGE]),
        lambda rs, t, v: rs.draft("maya", t, [Rule("r", "a <", RuleAction.SUPPRESS)]),
        lambda rs, t, v: rs.publish("lead", t, v, "go"),
        lambda rs, t, v: rs.shadow("lead", t, v, "compare"),
        lambda rs, t, v: rs.retire("lead", t, v, "done"),
        lambda rs, t, v: rs.publish("", t, v, "go"),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(COMMANDS, st.integers(min_value=0, max_value=500), st.integers(0, 6)),
        max_size=25,
    )
)
def test_any_sequence_of_commands_applies_or_is_refused_and_replays_to_the_same_rule_set(
    commands: list[tuple[object, int, int]],
) -> None:
    rule_set = RuleSet.start("acme", "maya", T0, "cards", [LARGE], "probe")
    recorded = list(rule_set.collect_events())
    for command, hours, version in commands:
        try:
            command(rule_set, T0 + timedelta(hours=hours), version)  # type: ignore[operator]  # sampled lambdas
        except DomainError:
            assert rule_set.collect_events() == []  # a refused command records nothing
        else:
            recorded += rule_set.collect_events()
    replayed: RuleSet | None = None
    for event in recorded:
        replayed = event.mutate(replayed)
    assert replayed == rule_set
    stages = [v.stage for v in rule_set.versions.values()]
    assert stages.count(Stage.PUBLISHED) <= 1  # never two deciding versions
    assert list(rule_set.versions) == list(range(1, len(stages) + 1))
