"""Detection rules as use cases: draft, publish, shadow and retire a source's rule versions, and
the compiled deciding version the scoring use case asks for.

Rule sets are saved through the alerts' application, so their events share the one log that
auditors replay and the relay publishes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from vigil.application.alert_desk import AlertDesk
from vigil.domain.decision import CompiledRules, compile_rules
from vigil.domain.errors import InvalidCommand, RuleSetNotFound
from vigil.domain.rule_set import Rule, RuleSet, Stage, rule_set_id

# Commands on the event store (blocking; call them through a thread) ---------------------------


def draft_rules(
    desk: AlertDesk, tenant_id: str, actor: str, source: str, rules: Sequence[Rule], note: str
) -> RuleSet:
    """Drafts the source's next rule version, starting its rule set with the first."""
    rule_set = find_rule_set(desk, tenant_id, source)
    if rule_set is None:
        rule_set = RuleSet.start(tenant_id, actor, desk.clock(), source, rules, note)
        try:
            desk.save(rule_set)
            return rule_set
        except IntegrityError:
            # Started by someone else since the lookup: this draft is their set's next version.
            rule_set = get_rule_set(desk, tenant_id, source)
    rule_set.draft(actor, desk.clock(), rules, note)
    desk.save(rule_set)
    return rule_set


def move_rules(
    desk: AlertDesk,
    tenant_id: str,
    actor: str,
    source: str,
    version: int,
    stage: Stage,
    reason: str,
) -> RuleSet:
    """Publishes a version, puts it in shadow or retires it: a version is never moved back to
    draft."""
    rule_set = get_rule_set(desk, tenant_id, source)
    moves = {
        Stage.PUBLISHED: rule_set.publish,
        Stage.SHADOW: rule_set.shadow,
        Stage.RETIRED: rule_set.retire,
    }
    if stage not in moves:
        raise InvalidCommand(
            "stage", f"a version moves to published, shadow or retired, not {stage}"
        )
    moves[stage](actor, desk.clock(), version, reason)
    desk.save(rule_set)
    return rule_set


def find_rule_set(desk: AlertDesk, tenant_id: str, source: str) -> RuleSet | None:
    return desk.owned(tenant_id, rule_set_id(tenant_id, source), RuleSet)


def get_rule_set(desk: AlertDesk, tenant_id: str, source: str) -> RuleSet:
    rule_set = find_rule_set(desk, tenant_id, source)
    if rule_set is None:
        raise RuleSetNotFound(source)
    return rule_set


# What scoring asks for ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    aggregate_version: int
    rules: CompiledRules | None


class PublishedRules:
    """The deciding rules of each tenant's source, read from the event store when asked (so a
    publication takes effect on the next batch, in every worker) and compiled once per change."""

    def __init__(self, desk: AlertDesk) -> None:
        self.desk = desk
        self._compiled: dict[UUID, _Compiled] = {}

    def deciding(self, tenant_id: str, source: str) -> CompiledRules | None:
        """The published version compiled, or None when the source has none to decide."""
        rule_set = find_rule_set(self.desk, tenant_id, source)
        if rule_set is None:
            return None
        known = self._compiled.get(rule_set.id)
        if known is None or known.aggregate_version != rule_set.version:
            published = rule_set.published
            rules = None if published is None else compile_rules(published)
            known = self._compiled[rule_set.id] = _Compiled(rule_set.version, rules)
        return known.rules
