"""Using the console from tests as a browser would: forms with their CSRF tokens, a session."""

from __future__ import annotations

import re
from typing import Any

from httpx import Response
from litestar.testing import AsyncTestClient

from tests.graphql_client import TENANT

CSRF_INPUT = re.compile(r'name="_csrf_token" value="([^"]+)"')


async def csrf_token(client: AsyncTestClient[Any], path: str) -> str:
    page = await client.get(path)
    match = CSRF_INPUT.search(page.text)
    assert match, f"the page {path} carries a form with a CSRF token"
    return match.group(1)


async def sign_in(
    client: AsyncTestClient[Any],
    username: str,
    password: str,
    next_path: str = "/",
    tenant: str = TENANT,
) -> Response:
    """Posts the sign-in form; the client keeps the session cookie it is given."""
    token = await csrf_token(client, "/login")
    form = {
        "username": username,
        "password": password,
        "tenant": tenant,
        "next": next_path,
        "_csrf_token": token,
    }
    return await client.post("/login", data=form, follow_redirects=False)
