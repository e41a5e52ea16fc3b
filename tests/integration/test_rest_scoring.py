"""REST scoring on both stores: one record or a batch scored by a line's champion, checked and
tokenised under its source's contract, with 422s naming the field and 404s for lines that
cannot score."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import onnx
import pytest
from litestar.testing import AsyncTestClient

from tests.graphql_client import TENANT
from tests.integration.conftest import api_key_of
from tests.model_lines import registered
from vigil.application.casework import Casework
from vigil.application.data_sources import apply_source
from vigil.application.detection import ModelCard
from vigil.application.features import InProcessWindowStore
from vigil.application.intake import Admission
from vigil.application.model_lines import move_version
from vigil.application.realtime_scoring import RealTimeScoring
from vigil.application.rule_sets import PublishedRules
from vigil.bootstrap import (
    build_model_registry,
    build_model_store,
    build_source_contracts,
)
from vigil.domain.model_line import ModelStage
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.infrastructure.detector_training import TrainingRequest, train_model
from vigil.infrastructure.explanations import ArtifactExplainer
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.onnx_detector import OnnxDetector
from vigil.infrastructure.settings import Settings, pii_token_key
from vigil.web.auth import API_KEY_HEADER

PAYMENTS = {
    "name": "payments",
    "source_type": "rest",
    "config": {"record_id": "id", "entity": "payer"},
    "schema": {
        "type": "object",
        "required": ["id", "payer", "amount", "hour"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "payer": {"type": "string"},
            "amount": {"type": "number", "minimum": 0},
            "hour": {"type": "integer", "minimum": 0, "maximum": 23},
        },
    },
    "pii_fields": ["payer"],
}


def payment(n: int, amount: float = 40.0, hour: int = 14) -> dict[str, Any]:
    return {"id": f"p-{n}", "payer": "Jane Roe", "amount": amount, "hour": hour}


@pytest.fixture
def card(settings: Settings, desk: Casework, tmp_path: Path) -> ModelCard:
    """payments-iforest, trained on ordinary payments, the champion of its line in TENANT."""
    apply_source(desk, FastJsonSchemaCompiler(), TENANT, "dana", PAYMENTS)
    data = tmp_path / "payments.csv"
    rows = "".join(f"{20 + (n * 7) % 60},{9 + n % 9}\n" for n in range(500))
    data.write_text("amount,hour\n" + rows)
    request = TrainingRequest("payments", data, n_estimators=50, alert_rate=0.02)
    return registered(settings, train_model(request, build_model_store(settings)), TENANT)


async def scored(client: AsyncTestClient[Any], path: str, body: Any, status: int = 200) -> Any:
    response = await client.post(f"/api/v1/scoring/{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


async def test_one_record_gets_the_champions_score_decision_and_version(
    client: AsyncTestClient[Any], card: ModelCard, settings: Settings
) -> None:
    answer = await scored(client, "score", {"model_name": "payments-iforest", "data": payment(1)})

    detector = OnnxDetector(card, settings.storage.models / f"{card.version}.onnx")
    [expected] = detector.score([{"amount": 40.0, "hour": 14}])
    assert answer == {
        "record_id": "p-1",
        "score": pytest.approx(expected),
        "decision": "pass",
        "severity": None,
        "threshold": card.bands.threshold,
        "model_name": "payments-iforest",
        "model_version": card.version,
        "rule_hits": [],
    }


async def test_a_batch_is_scored_in_order_and_an_outlier_alerts(
    client: AsyncTestClient[Any], card: ModelCard
) -> None:
    records = [payment(1), payment(2, amount=95_000.0, hour=3), payment(3)]
    answer = await scored(
        client, "score/batch", {"model_name": "payments-iforest", "data": records}
    )

    assert (answer["model_name"], answer["model_version"]) == ("payments-iforest", card.version)
    results = answer["results"]
    assert [r["record_id"] for r in results] == ["p-1", "p-2", "p-3"]
    assert [r["decision"] for r in results] == ["pass", "alert", "pass"]
    assert results[1]["severity"] in ("medium", "high", "critical")
    assert results[1]["score"] > card.bands.threshold


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("score", {"model_name": "payments-iforest", "data": payment(1, amount=-1)}, "data.amount"),
        ("score", {"model_name": "payments-iforest", "data": {"id": "p-1"}}, "data.payer"),
        ("score", {"model_name": "payments-iforest", "data": [payment(1)]}, "data"),
        ("score", {"data": payment(1)}, "model_name"),
        ("score", {"model_name": "payments-iforest", "data": payment(1),
                   "include_explanations": "yes"}, "include_explanations"),
        ("score/batch", {"model_name": "payments-iforest",
                         "data": [payment(1), payment(2), {**payment(3), "hour": 31}]},
         "data[2].hour"),
        ("score/batch", {"model_name": "payments-iforest", "data": []}, "data"),
    ],
)  # fmt: skip
async def test_a_request_or_record_that_does_not_fit_is_refused_naming_the_field(
    client: AsyncTestClient[Any], card: ModelCard, path: str, body: Any, field: str
) -> None:
    problem = await scored(client, path, body, status=422)
    assert problem["field"] == field
    assert problem["status"] == 422


async def test_a_line_that_does_not_exist_or_has_no_champion_is_not_found(
    client: AsyncTestClient[Any], card: ModelCard
) -> None:
    problem = await scored(client, "score", {"model_name": "nope", "data": payment(1)}, 404)
    assert problem["field"] == "model_name"


async def test_scoring_needs_the_scoring_permission(
    client: AsyncTestClient[Any], card: ModelCard, settings: Settings
) -> None:
    client.headers[API_KEY_HEADER] = api_key_of(settings, "ann", "analyst")
    response = await client.post(
        "/api/v1/scoring/score", json={"model_name": "payments-iforest", "data": payment(1)}
    )
    assert response.status_code == 403


async def test_another_tenants_line_cannot_score(
    client: AsyncTestClient[Any], card: ModelCard, settings: Settings
) -> None:
    client.headers[API_KEY_HEADER] = api_key_of(settings, "gus", "data_engineer", tenant="globex")
    problem = await scored(
        client, "score", {"model_name": "payments-iforest", "data": payment(1)}, 404
    )
    assert problem["field"] == "model_name"


@pytest.fixture
def boosted(settings: Settings, desk: Casework, tmp_path: Path, card: ModelCard) -> ModelCard:
    """payments-lightgbm beside the forest, learnt from labels: large night payments are fraud."""
    data = tmp_path / "labelled.csv"
    rows = [(20 + (n * 7) % 60, n % 24) for n in range(2_000)]
    rows += [(400 + n, n % 5) for n in range(40)]
    data.write_text(
        "amount,hour,is_fraud\n" + "".join(f"{a},{h},{int(a > 300)}\n" for a, h in rows)
    )
    request = TrainingRequest(
        "payments", data, label="is_fraud", algorithm="lightgbm", n_estimators=40, holdout=0.0
    )
    return registered(settings, train_model(request, build_model_store(settings)), TENANT)


async def test_a_tree_models_answer_explains_the_score_with_its_largest_contributions(
    client: AsyncTestClient[Any], boosted: ModelCard
) -> None:
    body = {"model_name": "payments-lightgbm", "data": payment(9, amount=450.0, hour=2)}
    answer = await scored(client, "score", {**body, "include_explanations": True})

    assert answer["model_version"] == boosted.version
    explanations = answer["explanations"]
    assert {e["feature"] for e in explanations} <= {"amount", "hour"}
    assert explanations[0] == {
        "feature": "amount",
        "value": 450.0,
        "contribution": pytest.approx(explanations[0]["contribution"]),
    }
    assert explanations[0]["contribution"] > 0  # a large amount pushes towards fraud
    sizes = [abs(e["contribution"]) for e in explanations]
    assert sizes == sorted(sizes, reverse=True)
    assert "explanations" not in await scored(client, "score", body)


async def test_an_isolation_forests_answer_explains_the_score_with_its_largest_contributions(
    client: AsyncTestClient[Any], card: ModelCard
) -> None:
    body = {"model_name": "payments-iforest", "data": payment(9, amount=95_000.0)}
    answer = await scored(client, "score", {**body, "include_explanations": True})

    assert answer["model_version"] == card.version
    explanations = answer["explanations"]
    assert {e["feature"] for e in explanations} == {"amount", "hour"}
    assert explanations[0]["feature"] == "amount"
    assert explanations[0]["value"] == 95_000.0
    assert explanations[0]["contribution"] > 0  # the amount isolates it: towards anomalous
    sizes = [abs(e["contribution"]) for e in explanations]
    assert sizes == sorted(sizes, reverse=True)


async def test_explanations_of_an_artifact_that_cannot_give_them_are_refused_saying_why(
    client: AsyncTestClient[Any], card: ModelCard, settings: Settings
) -> None:
    # The forest as exported before its nodes recorded their training samples.
    store = build_model_store(settings)
    model = onnx.load_from_string(store.artifact_path(card.version).read_bytes())
    (ensemble,) = (node for node in model.graph.node if node.op_type == "TreeEnsembleRegressor")
    kept = [a for a in ensemble.attribute if a.name != "nodes_hitrates"]
    del ensemble.attribute[:]
    ensemble.attribute.extend(kept)
    older = replace(card, model_line="payments-older-iforest")
    registered(settings, store.put(model.SerializeToString(), older), TENANT)

    body = {"model_name": "payments-older-iforest", "data": payment(1)}
    problem = await scored(client, "score", {**body, "include_explanations": True}, status=422)
    assert problem["field"] == "include_explanations"
    assert "isolation_forest" in problem["detail"]
    assert "nodes_hitrates" in problem["detail"]
    assert (await scored(client, "score", body))["decision"] == "pass"


async def test_a_promotion_reaches_real_time_scoring_within_its_refresh_interval(
    settings: Settings, desk: Casework, card: ModelCard, boosted: ModelCard
) -> None:
    now = [100.0]
    models = build_model_registry(settings, desk)
    admission = Admission(
        build_source_contracts(settings, desk), Pseudonymiser(pii_token_key(settings)), desk.clock
    )
    scoring = RealTimeScoring(
        models, admission, InProcessWindowStore(), PublishedRules(desk),
        ArtifactExplainer(models.store), refresh_seconds=1.0, monotonic=lambda: now[0],
    )  # fmt: skip
    # The forest's artifact as a second version of the boosted line, made its champion below.
    forest = registered(settings, replace(card, model_line="payments-lightgbm"), TENANT)

    async def deciding_version() -> str:
        detector, _ = await scoring.score(TENANT, "payments-lightgbm", [payment(1)])
        return detector.card.version

    assert await deciding_version() == boosted.version
    move_version(
        desk, TENANT, "lead", "payments-lightgbm", forest.version, ModelStage.CHAMPION, "swap"
    )
    now[0] += 0.5
    assert await deciding_version() == boosted.version  # read a moment ago: no query yet
    now[0] += 0.6
    assert await deciding_version() == forest.version
