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
from typing import Any

import orjson
from litestar import Request, Response, Router, post
from litestar.status_codes import HTTP_404_NOT_FOUND, HTTP_422_UNPROCESSABLE_ENTITY

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
from vigil.web.auth import requires
from vigil.web.case_files import problem

MAX_BATCH = 10_000
EXPLAINED_FEATURES = 5
"""How many of a score's largest feature contributions an explained answer carries."""


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


def scoring_router(endpoints: ScoringEndpoints) -> Router:
    scoring, max_request_bytes = endpoints.scoring, endpoints.max_request_bytes
    guards = [requires(Permission.SCORING_SCORE)]

    @post("/score", guards=guards, request_max_body_size=max_request_bytes, status_code=200)
    async def score(request: Request[Principal, Any, Any]) -> Response[Any]:
        return await _answer(scoring, request, batch=False)

    @post("/score/batch", guards=guards, request_max_body_size=max_request_bytes, status_code=200)
    async def score_batch(request: Request[Principal, Any, Any]) -> Response[Any]:
        return await _answer(scoring, request, batch=True)

    return Router("/api/v1/scoring", route_handlers=[score, score_batch])


async def _answer(
    scoring: RealTimeScoring, request: Request[Principal, Any, Any], batch: bool
) -> Response[Any]:
    try:
        asked = _parsed(await request.body(), batch)
    except BadRequest as error:
        return problem(HTTP_422_UNPROCESSABLE_ENTITY, "Invalid request", error.reason, error.field)
    top = EXPLAINED_FEATURES if asked.include_explanations else 0
    try:
        _, verdicts = await scoring.score(
            request.user.tenant_id, asked.model_name, asked.records, top
        )
    except ExplanationUnavailable as error:
        detail = str(error)
        return problem(
            HTTP_422_UNPROCESSABLE_ENTITY, "No explanations", detail, "include_explanations"
        )
    except (ModelLineNotFound, NoChampion, SourceNotFound) as error:
        return problem(HTTP_404_NOT_FOUND, "No model to score with", str(error), "model_name")
    except RecordRefused as refused:
        where = f"data[{refused.index}]" if batch else "data"
        field = where if refused.field == "record" else f"{where}.{refused.field}"
        return problem(HTTP_422_UNPROCESSABLE_ENTITY, "Record refused", refused.reason, field)
    if not batch:
        return Response(_shown(verdicts[0]))
    first = verdicts[0]
    body = {
        "model_name": first.model_line,
        "model_version": first.model_version,
        "results": [_shown(verdict) for verdict in verdicts],
    }
    return Response(body)


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
