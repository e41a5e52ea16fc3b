"""The root schema: every feature's queries, mutations and subscriptions, behind limits on cost.

The committed SDL (`schema.graphql`, beside this module) is regenerated with
`python -m vigil.graphql.schema`; a unit test fails while it is out of date.
"""

from __future__ import annotations

from pathlib import Path

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from vigil.graphql.alerts.mutations import AlertMutations
from vigil.graphql.alerts.personal_data import PersonalDataMutations
from vigil.graphql.alerts.queries import AlertQueries
from vigil.graphql.alerts.subscriptions import AlertSubscriptions
from vigil.graphql.cases.mutations import CaseMutations
from vigil.graphql.cases.queries import CaseQueries
from vigil.graphql.cases.subscriptions import CaseSubscriptions
from vigil.graphql.entities.queries import EntityQueries
from vigil.graphql.escalations.mutations import EscalationMutations
from vigil.graphql.escalations.queries import EscalationQueries
from vigil.graphql.labels.mutations import LabelMutations
from vigil.graphql.labels.queries import LabelQueries
from vigil.graphql.models.advice import AdviceQueries
from vigil.graphql.models.mutations import ModelMutations
from vigil.graphql.models.queries import ModelQueries
from vigil.graphql.models.training import TrainingMutations, TrainingQueries
from vigil.graphql.notifications.mutations import NotificationMutations
from vigil.graphql.notifications.queries import NotificationQueries
from vigil.graphql.queues.mutations import QueueMutations
from vigil.graphql.queues.queries import QueueQueries
from vigil.graphql.rules.mutations import RuleMutations
from vigil.graphql.rules.queries import RuleQueries
from vigil.graphql.sources.mutations import SourceMutations
from vigil.graphql.sources.queries import SourceQueries
from vigil.graphql.tags.mutations import TagMutations

SDL_PATH = Path(__file__).with_name("schema.graphql")

MAX_QUERY_DEPTH = 10
"""Deeper than any query the console or a client needs; stops nested-relation amplification."""

MAX_ALIASES = 30
"""Aliases let one request repeat an expensive field; a handful is plenty for real clients."""

MAX_TOKENS = 5000
"""Caps the parser's work on hostile documents before any validation runs."""

QUERY_CACHE_SIZE = 256
"""Distinct query texts whose parse and validation are kept; bounded, so unique texts sent by a
hostile client only evict each other."""


@strawberry.type
class Query(
    AlertQueries,
    CaseQueries,
    LabelQueries,
    EntityQueries,
    ModelQueries,
    TrainingQueries,
    AdviceQueries,
    QueueQueries,
    RuleQueries,
    SourceQueries,
    EscalationQueries,
    NotificationQueries,
):
    pass


@strawberry.type
class Mutation(
    AlertMutations,
    PersonalDataMutations,
    CaseMutations,
    LabelMutations,
    ModelMutations,
    TrainingMutations,
    QueueMutations,
    RuleMutations,
    SourceMutations,
    TagMutations,
    EscalationMutations,
    NotificationMutations,
):
    pass


@strawberry.type
class Subscription(AlertSubscriptions, CaseSubscriptions):
    pass


def build_schema(max_depth: int = MAX_QUERY_DEPTH) -> strawberry.Schema:
    # The limits' rules are made once: a limiter made per request brings rule classes of its own,
    # which the validation cache would take for a new key every time. Parsing and validating the
    # alert queue's query costs about 7 ms; clients repeat their queries, so both are cached.
    limits = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
    ]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Factories, so that each request gets fresh extension instances.
        extensions=[
            lambda: AddValidationRules(limits),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: ParserCache(maxsize=QUERY_CACHE_SIZE),
            lambda: ValidationCache(maxsize=QUERY_CACHE_SIZE),
        ],
    )


schema = build_schema()


def sdl() -> str:
    return str(schema) + "\n"


if __name__ == "__main__":
    SDL_PATH.write_text(sdl())
    print(f"wrote {SDL_PATH}")
