"""Talking to Vigil's GraphQL endpoint from tests, as a client over HTTP would."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

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
