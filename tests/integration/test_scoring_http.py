"""The scoring routes' HTTP edges, which they answer themselves rather than through Litestar's
request handling: credentials, methods and the request size limit."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from litestar.testing import AsyncTestClient

from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

LIMIT = 4_096
SCORE = "/api/v1/scoring/score"


@pytest.fixture
def settings(sqlite_settings: Settings) -> Settings:
    """The embedded default, with requests limited to LIMIT bytes."""
    ingest = sqlite_settings.ingest.model_copy(update={"max_request_bytes": LIMIT})
    return sqlite_settings.model_copy(update={"ingest": ingest})


@pytest.mark.parametrize("path", [SCORE, f"{SCORE}/batch"])
async def test_a_caller_without_credentials_is_told_to_sign_in(
    client: AsyncTestClient[Any], path: str
) -> None:
    del client.headers[API_KEY_HEADER]
    response = await client.post(path, json={"model_name": "cards", "data": {}})
    assert response.status_code == 401
    assert "sign in" in response.json()["detail"]


async def test_a_wrong_api_key_proves_nobody(client: AsyncTestClient[Any]) -> None:
    client.headers[API_KEY_HEADER] = "vk_not-a-key"
    response = await client.post(SCORE, json={"model_name": "cards", "data": {}})
    assert response.status_code == 401


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_scoring_takes_only_post(client: AsyncTestClient[Any], method: str) -> None:
    response = await client.request(method, SCORE)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["status"] == 405


async def test_a_request_over_the_size_limit_is_refused_unread(
    client: AsyncTestClient[Any],
) -> None:
    body = orjson.dumps({"model_name": "cards", "data": {"note": "x" * LIMIT}})
    response = await client.post(
        f"{SCORE}/batch", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_a_request_within_the_limit_is_read_and_answered(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.post(SCORE, json={"model_name": "nope", "data": {"amount": 1}})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == "model_name"


async def test_a_body_that_is_not_json_is_refused_naming_the_body(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.post(
        SCORE, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "body"
