"""REST scoring: `POST /api/v1/scoring/score` (one record) and `/score/batch` (many), each
`{"model_name": LINE, "data": RECORD or [RECORDS], "include_explanations": false}`.

The answer carries each record's score, decision (`alert` or `pass`), severity, threshold and
the model line and version that decided. A request that is not of that shape, or a record that
does not fit the source's contract or the model's features, gets a 422 problem naming the field
(`data.TX_AMOUNT`, `data[3].TX_AMOUNT`); an unknown line, one without a champion, or one
whose source has no contract (yet), a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson
from litestar.exceptions import (
    ClientException,
    InternalServerException,
    NotAuthorizedException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.handlers import ASGIRouteHandler, asgi
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_404_NOT_FOUND,
    HTTP_405_METHOD_NOT_ALLOWED,
    HTTP_422_UNPROCESSABLE_ENTITY,
)
from litestar.types import Receive, Scope, Send

from vigil.application.data_sources import SourceNotFound
from vigil.application.detection import NoChampion
from vigil.application.permissions import Permission, Principal
from vigil.application.realtime_scoring import (
    ExplanationUnavailable,
    RealTimeScoring,
    RecordRefused,
    Verdict,
)
from vigil.domain.errors import ModelLineNotFound
from vigil.web.auth import SIGN_IN, check_permissions
from vigil.web.case_files import problem_document

PREFIX = "/api/v1/scoring"
METHOD = "POST"
MAX_BATCH = 10_000
EXPLAINED_FEATURES = 5
"""How many of a score's largest feature contributions an explained answer carries."""

_JSON = b"application/json"
_PROBLEM = b"application/problem+json"


@dataclass(frozen=True)
class _Request:
    model_name: str
    records: list[Mapping[str, Any]]
    include_explanations: bool


class BadRequest(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ScoringEndpoints:
    scoring: RealTimeScoring
    max_request_bytes: int


def scoring_routes(endpoints: ScoringEndpoints) -> list[ASGIRouteHandler]:
    """The two routes, as ASGI handlers: a scoring request is read from and answered to the
    server directly, past Litestar's request parsing, dependency injection, guards (each one
    copies its route handler) and response building, which cost as much as the scoring itself.
    The middleware still runs: authentication puts the caller in the scope, and the exception
    middleware answers 401, 403 and 413 as on every other route."""

    @asgi(f"{PREFIX}/score", copy_scope=False, opt={"http_methods": [METHOD]})
    async def score(scope: Scope, receive: Receive, send: Send) -> None:
        await _serve(endpoints, scope, receive, send, batch=False)

    @asgi(f"{PREFIX}/score/batch", copy_scope=False, opt={"http_methods": [METHOD]})
    async def score_batch(scope: Scope, receive: Receive, send: Send) -> None:
        await _serve(endpoints, scope, receive, send, batch=True)

    return [score, score_batch]


async def _serve(
    endpoints: ScoringEndpoints, scope: Scope, receive: Receive, send: Send, batch: bool
) -> None:
    if scope.get("method") != METHOD:  # a websocket's scope has no method
        refusal = _problem(HTTP_405_METHOD_NOT_ALLOWED, "Method not allowed", "POST only", None)
        await _send(send, *refusal, allow=METHOD)
        return
    principal = scope.get("user")
    if not isinstance(principal, Principal):
        raise NotAuthorizedException(SIGN_IN)
    check_permissions(principal, (Permission.SCORING_SCORE,))
    body = await _body(scope, receive, endpoints.max_request_bytes)
    await _send(send, *await _answer(endpoints.scoring, principal, body, batch))


async def _body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body; 413 past `limit` bytes, announced or streamed."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                announced = int(value)
            except ValueError:
                raise ClientException(f"Invalid content-length: {value!r}") from None
            if announced > limit:
                raise RequestEntityTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InternalServerException("client disconnected prematurely")
        chunk = cast(bytes, message.get("body", b""))
        if chunk:
            size += len(chunk)
            if size > limit:
                raise RequestEntityTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(
    send: Send, status: int, content: bytes, media_type: bytes, allow: str = ""
) -> None:
    headers = [(b"content-type", media_type), (b"content-length", str(len(content)).encode())]
    if allow:
        headers.append((b"allow", allow.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})


async def _answer(
    scoring: RealTimeScoring, principal: Principal, body: bytes, batch: bool
) -> tuple[int, bytes, bytes]:
    try:
        asked = _parsed(body, batch)
    except BadRequest as error:
        return _problem(HTTP_422_UNPROCESSABLE_ENTITY, "Invalid request", error.reason, error.field)
    top = EXPLAINED_FEATURES if asked.include_explanations else 0
    try:
        _, verdicts = await scoring.score(principal.tenant_id, asked.model_name, asked.records, top)
    except ExplanationUnavailable as error:
        detail = str(error)
        return _problem(
            HTTP_422_UNPROCESSABLE_ENTITY, "No explanations", detail, "include_explanations"
        )
    except (ModelLineNotFound, NoChampion, SourceNotFound) as error:
        return _problem(HTTP_404_NOT_FOUND, "No model to score with", str(error), "model_name")
    except RecordRefused as refused:
        where = f"data[{refused.index}]" if batch else "data"
        field = where if refused.field == "record" else f"{where}.{refused.field}"
        return _problem(HTTP_422_UNPROCESSABLE_ENTITY, "Record refused", refused.reason, field)
    if not batch:
        return HTTP_200_OK, orjson.dumps(_shown(verdicts[0])), _JSON
    first = verdicts[0]
    answer = {
        "model_name": first.model_line,
        "model_version": first.model_version,
        "results": [_shown(verdict) for verdict in verdicts],
    }
    return HTTP_200_OK, orjson.dumps(answer), _JSON


def _problem(status: int, title: str, detail: str, field: str | None) -> tuple[int, bytes, bytes]:
    return status, orjson.dumps(problem_document(status, title, detail, field)), _PROBLEM


def _parsed(body: bytes, batch: bool) -> _Request:
    try:
        asked = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest("body", f"not JSON: {error}") from None
    if not isinstance(asked, dict):
        raise BadRequest("body", "must be a JSON object")
    name = asked.get("model_name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("model_name", "the model line to score with, as a string")
    explain = asked.get("include_explanations", False)
    if not isinstance(explain, bool):
        raise BadRequest("include_explanations", "must be true or false")
    return _Request(name, _records(asked.get("data"), batch), explain)


def _records(data: object, batch: bool) -> list[Mapping[str, Any]]:
    if not batch:
        if not isinstance(data, dict):
            raise BadRequest("data", "the record to score, as a JSON object")
        return [data]
    if not isinstance(data, list) or not data:
        raise BadRequest("data", "the records to score, as a non-empty JSON array")
    if len(data) > MAX_BATCH:
        raise BadRequest("data", f"{len(data):,} records; a batch holds at most {MAX_BATCH:,}")
    for index, record in enumerate(data):
        if not isinstance(record, dict):
            raise BadRequest(f"data[{index}]", "must be a JSON object")
    return data


def _shown(verdict: Verdict) -> dict[str, Any]:
    return {
        "record_id": verdict.record_id,
        "score": verdict.score,
        "decision": verdict.decision,
        "severity": None if verdict.severity is None else str(verdict.severity),
        "threshold": verdict.threshold,
        "model_name": verdict.model_line,
        "model_version": verdict.model_version,
        "rule_hits": list(verdict.rule_hits),
        **(
            {}
            if verdict.explanation is None
            else {
                "explanations": [
                    {"feature": c.feature, "value": c.value, "contribution": c.contribution}
                    for c in verdict.explanation
                ]
            }
        ),
    }
