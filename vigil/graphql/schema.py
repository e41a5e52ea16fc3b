"""The root schema: every feature's queries and mutations, behind limits on query cost.

The committed SDL (`schema.graphql`, beside this module) is regenerated with
`python -m vigil.graphql.schema`; a unit test fails while it is out of date.
"""

from __future__ import annotations

from pathlib import Path

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from vigil.graphql.alerts.mutations import AlertMutations
from vigil.graphql.alerts.queries import AlertQueries
from vigil.graphql.cases.mutations import CaseMutations
from vigil.graphql.cases.queries import CaseQueries
from vigil.graphql.entities.queries import EntityQueries
from vigil.graphql.labels.mutations import LabelMutations
from vigil.graphql.labels.queries import LabelQueries

SDL_PATH = Path(__file__).with_name("schema.graphql")

MAX_QUERY_DEPTH = 10
"""Deeper than any query the console or a client needs; stops nested-relation amplification."""

MAX_ALIASES = 30
"""Aliases let one request repeat an expensive field; a handful is plenty for real clients."""

MAX_TOKENS = 5000
"""Caps the parser's work on hostile documents before any validation runs."""


@strawberry.type
class Query(AlertQueries, CaseQueries, LabelQueries, EntityQueries):
    pass


@strawberry.type
class Mutation(AlertMutations, CaseMutations, LabelMutations):
    pass


def build_schema(max_depth: int = MAX_QUERY_DEPTH) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        # Factories, so that each request gets fresh extension instances.
        extensions=[
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ],
    )


schema = build_schema()


def sdl() -> str:
    return str(schema) + "\n"


if __name__ == "__main__":
    SDL_PATH.write_text(sdl())
    print(f"wrote {SDL_PATH}")
