"""Model lines over GraphQL on both stores: model owners read every version's card and move
versions with a reason; analysts read but cannot promote; other tenants see nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.graphql_client import TENANT, data, graphql
from tests.integration.conftest import api_key_of
from tests.integration.training_service import (
    TRAIN,
    ended_job,
    payments_file,
    payments_registered,
)
from tests.model_lines import registered
from vigil.application.detection import ModelCard
from vigil.application.model_scores import ComparisonCount
from vigil.bootstrap import build_model_store
from vigil.infrastructure.detector_training import TrainingRequest, train_model
from vigil.infrastructure.read_model.model_comparisons import SqlComparisonBook
from vigil.infrastructure.settings import Settings
from vigil.web.auth import API_KEY_HEADER

LINE = "payments-iforest"

LINES = """
query Lines($source: String) {
  modelLines(source: $source) {
    name source
    champion { version stage algorithm bands { threshold high critical } }
    versions { version stage algorithm features metrics trainingRows registeredBy }
  }
}"""

PROMOTE = """
mutation Promote($line: String!, $version: String!, $stage: ModelStage!, $reason: String!) {
  promoteModelVersion(input: {line: $line, version: $version, stage: $stage, reason: $reason}) {
    __typename
    ... on ModelLineChanged { modelLine { champion { version } shadows { version } } }
    ... on NotAllowedError { message }
    ... on NotFoundError { message }
    ... on InvalidInputError { field message }
  }
}"""

THRESHOLD = """
mutation Threshold($version: String!, $threshold: Float!, $high: Float!, $critical: Float!) {
  changeModelThreshold(input: {line: "payments-iforest", version: $version,
      threshold: $threshold, high: $high, critical: $critical, reason: "alert budget"}) {
    __typename
    ... on ModelLineChanged { modelLine { champion { bands { threshold high critical } } } }
    ... on InvalidInputError { field message }
  }
}"""

HISTORY = """
query History { modelLineHistory(name: "payments-iforest") { event version actor reason } }"""


def trained(settings: Settings, tmp_path: Path, seed: int) -> ModelCard:
    data = tmp_path / "payments.csv"
    data.write_text("amount,hour\n" + "".join(f"{10 + n % 97},{n % 24}\n" for n in range(300)))
    request = TrainingRequest("payments", data, n_estimators=20, seed=seed)
    card = train_model(request, build_model_store(settings))
    return registered(settings, card, tenant_id=TENANT)


@pytest.fixture
def versions(settings: Settings, tmp_path: Path) -> tuple[ModelCard, ModelCard]:
    """The line's first version, its champion, and a retrained one, registered."""
    return trained(settings, tmp_path, seed=1), trained(settings, tmp_path, seed=2)


async def as_user(client: AsyncTestClient[Any], settings: Settings, name: str, role: str) -> None:
    client.headers[API_KEY_HEADER] = api_key_of(settings, name, role)


async def test_a_model_owner_reads_every_version_and_promotes_one_with_a_reason(
    client: AsyncTestClient[Any], settings: Settings, versions: tuple[ModelCard, ModelCard]
) -> None:
    first, second = versions
    await as_user(client, settings, "olga", "model_owner")

    [line] = (await data(client, LINES, source="payments"))["modelLines"]
    assert line["champion"]["version"] == first.version
    assert [v["stage"] for v in line["versions"]] == ["REGISTERED", "CHAMPION"]
    assert line["versions"][1]["features"] == ["amount", "hour"]
    assert line["versions"][1]["trainingRows"] == 240  # the latest 60 are held out

    shadowed = await data(
        client, PROMOTE, line=LINE, version=second.version, stage="SHADOW", reason="compare"
    )
    assert shadowed["promoteModelVersion"]["modelLine"]["shadows"] == [{"version": second.version}]
    promoted = await data(
        client, PROMOTE, line=LINE, version=second.version, stage="CHAMPION", reason="won"
    )
    assert promoted["promoteModelVersion"]["modelLine"]["champion"] == {"version": second.version}

    again = await data(
        client, PROMOTE, line=LINE, version=second.version, stage="CHAMPION", reason="again"
    )
    assert again["promoteModelVersion"]["__typename"] == "NotAllowedError"
    history = (await data(client, HISTORY))["modelLineHistory"]
    assert [(h["event"], h["actor"], h["reason"]) for h in history[-2:]] == [
        ("Promoted", "olga", "compare"),
        ("Promoted", "olga", "won"),
    ]


async def test_a_threshold_out_of_order_is_refused_naming_the_bands(
    client: AsyncTestClient[Any], settings: Settings, versions: tuple[ModelCard, ModelCard]
) -> None:
    first, _ = versions
    await as_user(client, settings, "olga", "model_owner")

    refused = await data(client, THRESHOLD, version=first.version, threshold=0.9, high=0.5,
                         critical=0.95)  # fmt: skip
    assert refused["changeModelThreshold"] == {
        "__typename": "InvalidInputError",
        "field": "bands",
        "message": "needs threshold <= high <= critical",
    }
    changed = await data(client, THRESHOLD, version=first.version, threshold=0.4, high=0.5,
                         critical=0.95)  # fmt: skip
    bands = changed["changeModelThreshold"]["modelLine"]["champion"]["bands"]
    assert bands == {"threshold": 0.4, "high": 0.5, "critical": 0.95}


async def test_an_analyst_reads_the_lines_but_may_not_promote(
    client: AsyncTestClient[Any], settings: Settings, versions: tuple[ModelCard, ModelCard]
) -> None:
    _, second = versions
    await as_user(client, settings, "ann", "analyst")

    assert len((await data(client, LINES))["modelLines"]) == 1
    body = await graphql(
        client, PROMOTE, line=LINE, version=second.version, stage="CHAMPION", reason="mine"
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_tenant_sees_no_line_and_cannot_move_one(
    client: AsyncTestClient[Any], settings: Settings, versions: tuple[ModelCard, ModelCard]
) -> None:
    _, second = versions
    client.headers[API_KEY_HEADER] = api_key_of(settings, "gus", "model_owner", tenant="globex")

    assert (await data(client, LINES))["modelLines"] == []
    moved = await data(
        client, PROMOTE, line=LINE, version=second.version, stage="CHAMPION", reason="theirs"
    )
    assert moved["promoteModelVersion"]["__typename"] == "NotFoundError"


COMPARISONS = """
query Compare($line: String!) {
  modelComparisons(line: $line) {
    championVersion shadowVersion scored championAlerts shadowAlerts bothAlerts
    agreement meanScoreGap
  }
}"""


async def test_a_model_owner_reads_how_a_shadow_compares_with_the_champion(
    client: AsyncTestClient[Any],
    settings: Settings,
    read_engine: AsyncEngine,
    versions: tuple[ModelCard, ModelCard],
) -> None:
    first, second = versions
    book = SqlComparisonBook(read_engine)
    count = ComparisonCount(TENANT, LINE, first.version, second.version, 200, 4, 6, 3, 10.0)
    assert await book.apply([count], position=7)
    assert not await book.apply([count], position=7)  # a redelivered message counts once
    await as_user(client, settings, "olga", "model_owner")

    [compared] = (await data(client, COMPARISONS, line=LINE))["modelComparisons"]

    assert compared == {
        "championVersion": first.version,
        "shadowVersion": second.version,
        "scored": 200,
        "championAlerts": 4,
        "shadowAlerts": 6,
        "bothAlerts": 3,
        "agreement": pytest.approx(1 - 4 / 200),
        "meanScoreGap": pytest.approx(0.05),
    }
    assert (await data(client, COMPARISONS, line="cards-other"))["modelComparisons"] == []


ADVICE = """
query Advice($line: String!, $version: String!, $review: Float!) {
  thresholdAdvice(line: $line, version: $version, reviewCost: $review) {
    unit threshold alerts cost within alertNothing alertEverything
    current { threshold low high }
    points { threshold alerts cost }
  }
  modelLine(name: $line) { versions { thresholdCurve { threshold alerts truePositives } } }
}"""


async def test_a_labelled_version_advises_the_threshold_of_least_expected_cost(
    client: AsyncTestClient[Any], settings: Settings, tmp_path: Path
) -> None:
    labelled = tmp_path / "labelled.csv"
    rows = [(20 + (n * 7) % 60, n % 24, 0) for n in range(900)]
    rows += [(300 + n, 3, 1) for n in range(0, 900, 30)]
    rows.sort(key=lambda row: (row[0] * 31) % 97)  # frauds spread through the file's order
    labelled.write_text("amount,hour,is_fraud\n" + "".join(f"{a},{h},{f}\n" for a, h, f in rows))
    request = TrainingRequest(
        "payments", labelled, label="is_fraud", amount="amount", algorithm="lightgbm",
        model_line="payments-lgbm", n_estimators=20,
    )  # fmt: skip
    card = registered(settings, train_model(request, build_model_store(settings)), TENANT)
    await as_user(client, settings, "olga", "model_owner")

    answer = await data(client, ADVICE, line="payments-lgbm", version=card.version, review=5.0)

    advice = answer["thresholdAdvice"]
    assert advice["unit"] == "1,000 records"
    costs = [p["cost"] for p in advice["points"]]
    assert advice["cost"] == pytest.approx(min(costs))
    assert advice["cost"] < min(advice["alertNothing"], advice["alertEverything"])
    assert advice["current"]["threshold"] == card.bands.threshold
    [version] = answer["modelLine"]["versions"]
    assert version["thresholdCurve"][0]["alerts"] <= version["thresholdCurve"][-1]["alerts"]

    refused = await graphql(client, ADVICE, line="payments-lgbm", version=card.version, review=-1.0)
    assert refused["errors"][0]["extensions"]["field"] == "reviewCost"


LINE_VERSIONS = """
query Line($name: String!) {
  modelLine(name: $name) { champion { version }
                           versions { version algorithm stage metrics registeredBy note } }
}"""


async def test_a_model_owner_trains_a_model_on_a_file_of_the_training_folder(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    payments_registered(settings)
    payments_file(settings, "payments.csv")
    await as_user(client, settings, "olga", "model_owner")
    order = {"source": "payments", "data": "payments.csv", "algorithm": "xgboost",
             "label": "is_fraud", "nEstimators": 10, "note": "first cut"}  # fmt: skip

    started = (await data(client, TRAIN, input=order))["trainModel"]

    assert started["__typename"] == "TrainingJob", started
    assert (started["status"], started["modelLine"]) == ("QUEUED", "payments-xgboost")
    job = await ended_job(client, started["id"])
    assert (job["status"], job["error"], job["newVersion"]) == ("SUCCEEDED", None, True)
    line = (await data(client, LINE_VERSIONS, name="payments-xgboost"))["modelLine"]
    [version] = line["versions"]
    assert version["version"] == job["version"] == line["champion"]["version"]
    assert (version["algorithm"], version["stage"], version["registeredBy"]) == (
        "xgboost",
        "CHAMPION",
        "olga",
    )
    assert version["note"] == "first cut"
    assert 0.0 <= version["metrics"]["pr_auc"] <= 1.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"data": "../../etc/passwd"}, "data"),
        ({"data": "missing.csv"}, "data"),
        ({"algorithm": "random_forest"}, "algorithm"),
        ({"alertRate": 0.9}, "alert_rate"),
        ({"holdout": 1.5}, "holdout"),
        ({"algorithm": "lightgbm"}, "label"),  # no label: a supervised model has nothing to learn
        ({"label": "is_fraud"}, "label"),  # not a column of the file
        ({"modelLine": "no spaces"}, "model_line"),
        ({"pipeline": "name: p\\nsource: payments\\n"}, "pipeline.document"),
    ],
)
async def test_a_training_order_that_cannot_give_a_model_is_refused_naming_the_field(
    client: AsyncTestClient[Any], settings: Settings, changes: dict[str, Any], field: str
) -> None:
    payments_registered(settings)
    settings.storage.training.mkdir(parents=True, exist_ok=True)
    (settings.storage.training / "p.csv").write_text("amount,hour\n" + "5,1\n" * 50)
    await as_user(client, settings, "olga", "model_owner")
    order = {"source": "payments", "data": "p.csv", **changes}

    refused = (await data(client, TRAIN, input=order))["trainModel"]

    assert refused["__typename"] == "InvalidInputError"
    assert refused["field"] == field
