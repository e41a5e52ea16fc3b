"""Rule set commands: draft a version, publish it, put it in shadow, retire it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import anyio.to_thread
import strawberry

from vigil.application import rule_sets
from vigil.application.permissions import Permission
from vigil.domain import rule_set as domain
from vigil.domain.errors import (
    IllegalRuleStage,
    InvalidCommand,
    RuleSetNotFound,
    RuleVersionNotFound,
)
from vigil.graphql.alerts.types import Severity
from vigil.graphql.cases.mutations import NotAllowedError, NotFoundError
from vigil.graphql.context import Info
from vigil.graphql.errors import InvalidInputError
from vigil.graphql.permissions import needs
from vigil.graphql.rules.types import RuleAction, RuleSet, RuleStage


@strawberry.type(description="The command was recorded; the rule set as it was just saved.")
class RuleSetChanged:
    rule_set: RuleSet


RuleSetResult = Annotated[
    RuleSetChanged | NotFoundError | NotAllowedError | InvalidInputError,
    strawberry.union("RuleSetResult"),
]


@strawberry.input
class RuleInput:
    name: str
    expression: str
    action: RuleAction
    severity: Severity | None = None
    description: str = ""

    def to_domain(self) -> domain.Rule:
        return domain.Rule(self.name, self.expression, self.action, self.severity, self.description)


@strawberry.input(description="The whole next version: a version is drafted once, never edited.")
class DraftRulesInput:
    source: str
    rules: list[RuleInput]
    note: str = ""


@strawberry.input
class RuleVersionInput:
    source: str
    version: int
    reason: str


@strawberry.type
class RuleMutations:
    @strawberry.mutation(
        extensions=needs(Permission.RULES_MANAGE),
        description="Drafts the source's next rule version; it decides nothing yet.",
    )
    async def draft_rules(self, info: Info, input: DraftRulesInput) -> RuleSetResult:
        ctx = info.context
        rules = [rule.to_domain() for rule in input.rules]
        return await _run(
            input.source,
            lambda: rule_sets.draft_rules(
                ctx.alert_desk, ctx.tenant_id, ctx.actor, input.source, rules, input.note
            ),
        )

    @strawberry.mutation(
        extensions=needs(Permission.RULES_MANAGE),
        description="Makes a version the one that decides, from the next scored batch on; the "
        "version it replaces is retired in the same event.",
    )
    async def publish_rules(self, info: Info, input: RuleVersionInput) -> RuleSetResult:
        return await _moved(info, input, RuleStage.PUBLISHED)

    @strawberry.mutation(
        extensions=needs(Permission.RULES_MANAGE),
        description="Puts a draft in shadow: kept beside the published version.",
    )
    async def shadow_rules(self, info: Info, input: RuleVersionInput) -> RuleSetResult:
        return await _moved(info, input, RuleStage.SHADOW)

    @strawberry.mutation(
        extensions=needs(Permission.RULES_MANAGE),
        description="Retires a version; retiring the published one leaves the model to decide "
        "alone.",
    )
    async def retire_rules(self, info: Info, input: RuleVersionInput) -> RuleSetResult:
        return await _moved(info, input, RuleStage.RETIRED)


async def _moved(info: Info, input: RuleVersionInput, stage: RuleStage) -> RuleSetResult:
    ctx = info.context
    return await _run(
        input.source,
        lambda: rule_sets.move_rules(
            ctx.alert_desk,
            ctx.tenant_id,
            ctx.actor,
            input.source,
            input.version,
            stage,
            input.reason,
        ),
    )


async def _run(source: str, command: Callable[[], domain.RuleSet]) -> RuleSetResult:
    try:
        rule_set = await anyio.to_thread.run_sync(command)
    except (RuleSetNotFound, RuleVersionNotFound) as error:
        return NotFoundError(id=strawberry.ID(source), message=str(error))
    except IllegalRuleStage as error:
        return NotAllowedError(message=str(error))
    except InvalidCommand as error:
        return InvalidInputError(field=error.field, message=error.reason)
    return RuleSetChanged(rule_set=RuleSet.from_aggregate(rule_set))
