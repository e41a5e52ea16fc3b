"""Talking to Vigil's GraphQL endpoint from tests, as a client over HTTP would."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from vigil.application.permissions import Principal, Role, permissions_of
from vigil.domain.user import user_id

TENANT = "acme"
ANALYST = "demo-analyst"


async def graphql(client: AsyncTestClient[Any], query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def data(client: AsyncTestClient[Any], query: str, **variables: Any) -> dict[str, Any]:
    body = await graphql(client, query, **variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def admin(tenant_id: str = TENANT, username: str = ANALYST) -> Principal:
    """A caller holding every permission, for tests that execute the schema without HTTP."""
    return Principal(
        user_id=user_id(tenant_id, username),
        tenant_id=tenant_id,
        username=username,
        roles=frozenset({Role.ADMIN}),
        permissions=permissions_of([Role.ADMIN]),
        via="token",
    )
