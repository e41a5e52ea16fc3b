"""Rule sets as the API shows them: each version whole, with its stage and who drafted it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from vigil.domain import rule_set as domain
from vigil.domain.decision import Decision
from vigil.graphql.alerts.types import Severity

RuleAction = domain.RuleAction
RuleStage = domain.Stage
strawberry.enum(RuleAction, description="What a firing rule does to the decision on a record.")
strawberry.enum(RuleStage, name="RuleStage", description="Only the published version decides.")


@strawberry.type(description="A detection rule: an expression over the record and `score`.")
class Rule:
    name: str
    expression: str
    action: RuleAction
    severity: Severity | None
    description: str

    @classmethod
    def from_domain(cls, rule: domain.Rule) -> Rule:
        return cls(
            name=rule.name,
            expression=rule.expression,
            action=rule.action,
            severity=rule.severity,
            description=rule.description,
        )


@strawberry.type(description="One drafted version of a rule set; its rules never change.")
class RuleVersion:
    number: int
    stage: RuleStage
    note: str
    drafted_by: str
    drafted_at: datetime
    rules: list[Rule]

    @classmethod
    def from_domain(cls, version: domain.RuleVersion) -> RuleVersion:
        return cls(
            number=version.number,
            stage=version.stage,
            note=version.note,
            drafted_by=version.drafted_by,
            drafted_at=version.drafted_at,
            rules=[Rule.from_domain(rule) for rule in version.rules],
        )


@strawberry.type(description="A source's detection rules, every version, newest first.")
class RuleSet:
    id: strawberry.ID
    source: str
    published_version: int | None = strawberry.field(
        description="The version that decides; null while none is published."
    )
    versions: list[RuleVersion]

    @classmethod
    def from_aggregate(cls, rule_set: domain.RuleSet) -> RuleSet:
        published = rule_set.published
        return cls(
            id=strawberry.ID(str(rule_set.id)),
            source=rule_set.source,
            published_version=None if published is None else published.number,
            versions=[
                RuleVersion.from_domain(rule_set.versions[number])
                for number in sorted(rule_set.versions, reverse=True)
            ],
        )


@strawberry.type(description="What a rule version would decide on one record.")
class RuleDecision:
    alerts: bool
    severity: Severity | None
    hits: list[str] = strawberry.field(description="The rules that fired, in rule order.")
    suppressed_by: str | None
    errors: list[RuleEvaluationError] = strawberry.field(
        description="Rules that could not be evaluated on the record; they count as not firing."
    )

    @classmethod
    def from_domain(cls, decision: Decision) -> RuleDecision:
        return cls(
            alerts=decision.alerts,
            severity=decision.severity,
            hits=list(decision.hits),
            suppressed_by=decision.suppressed_by,
            errors=[RuleEvaluationError(rule=r, reason=why) for r, why in decision.errors],
        )


@strawberry.type
class RuleEvaluationError:
    rule: str
    reason: str
