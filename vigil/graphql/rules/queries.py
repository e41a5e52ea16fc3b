"""Reading rule sets from the event store, and trying a version on a record before publishing."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import strawberry
from strawberry.scalars import JSON

from vigil.application.permissions import Permission
from vigil.application.rule_sets import find_rule_set
from vigil.application.scoring import rule_context
from vigil.domain.decision import compile_rules
from vigil.domain.errors import RuleVersionNotFound
from vigil.graphql.alerts.queries import invalid_argument
from vigil.graphql.alerts.types import Severity
from vigil.graphql.context import Info
from vigil.graphql.permissions import needs
from vigil.graphql.rules.types import RuleDecision, RuleSet


@strawberry.type
class RuleQueries:
    @strawberry.field(
        extensions=needs(Permission.RULES_READ),
        description="The source's rule set; null if no rules were drafted for it.",
    )
    async def rule_set(
        self, info: Info, source_name: Annotated[str, strawberry.argument(name="source")]
    ) -> RuleSet | None:
        ctx, source = info.context, source_name
        found = await anyio.to_thread.run_sync(find_rule_set, ctx.alert_desk, ctx.tenant_id, source)
        return None if found is None else RuleSet.from_aggregate(found)

    @strawberry.field(
        extensions=needs(Permission.RULES_READ),
        description="What a version of the source's rules (the published one unless named) "
        "would decide on a record with this model score and grade. Records nothing.",
    )
    async def try_rules(
        self,
        info: Info,
        source_name: Annotated[str, strawberry.argument(name="source")],
        record: JSON,
        score: float,
        model_severity: Severity | None = None,
        version: int | None = None,
    ) -> RuleDecision:
        if not isinstance(record, dict):
            raise invalid_argument("record", "must be a JSON object of the record's fields")
        ctx, source = info.context, source_name
        found = await anyio.to_thread.run_sync(find_rule_set, ctx.alert_desk, ctx.tenant_id, source)
        if found is None:
            raise invalid_argument("source", f"no rules were drafted for {source!r}")
        try:
            chosen = found.published if version is None else found.rule_version(version)
        except RuleVersionNotFound as error:
            raise invalid_argument("version", str(error)) from None
        if chosen is None:
            raise invalid_argument("version", f"no version of {source!r} is published; name one")
        fields: dict[str, Any] = record
        decision = compile_rules(chosen).decide(rule_context(fields, score), model_severity)
        return RuleDecision.from_domain(decision)
