"""GraphiQL at /graphql in a browser, served by Vigil itself: nothing loads from another host."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import AsyncTestClient

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""")


async def test_graphiql_loads_nothing_from_another_host(client: AsyncTestClient[Any]) -> None:
    page = await client.get("/graphql", headers={"Accept": "text/html"})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "GraphiQL" in page.text
    assert not re.search(r"https?://", page.text)
    references = REFERENCE.findall(page.text)
    assert all(
        r.startswith("data:") or (r.startswith("/") and not r.startswith("//")) for r in references
    )
    for reference in (r for r in references if r.startswith("/")):
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert not re.search(rb"@import\s+url\(\s*['\"]?https?:", asset.content), reference


async def test_a_client_asking_for_json_still_gets_the_api(client: AsyncTestClient[Any]) -> None:
    answer = await client.get("/graphql", params={"query": "{ __typename }"})

    assert answer.json() == {"data": {"__typename": "Query"}}
