"""Labels from the event store into the online label windows: a record's fraud, confirmed after
it raised an alert or charged back on a record that raised none, reaches the terminal risk of the
records after it as the offline matrix has it, on both event stores and both window stores; a
label on a record the windows never saw or no longer keep is counted as missed, and a restarted
follower feeds nothing twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from onnx import TensorProto, helper
from redis.asyncio import Redis

from tests.builders import T0, detection
from vigil.application.casework import Casework
from vigil.application.detection import ModelCard
from vigil.application.features import InProcessWindowStore, WindowStore, fit, window_input
from vigil.application.label_follower import LabelFollower
from vigil.application.model_lines import ModelLineDirectory, move_version, register_version
from vigil.application.records import RecordEnvelope
from vigil.bootstrap import build_alert_desk, build_model_store, open_window_store
from vigil.bootstrap_labels import build_label_follower, run_label_worker
from vigil.domain.case import Disposition, Priority
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.label import LabelSource, SubjectKind, Verdict
from vigil.domain.model_line import ModelStage
from vigil.domain.severity import SeverityBands
from vigil.infrastructure.label_position import RedisLabelPosition
from vigil.infrastructure.onnx_detector import PIPELINE_METADATA
from vigil.infrastructure.served_pipelines import ServedPipelines
from vigil.infrastructure.settings import Settings
from vigil.infrastructure.window_store import RedisWindowStore

TENANT, SOURCE, LINE = "default", "cards", "cards-risk"
TERMINAL_RATE = "TERMINAL_ID_fraud_rate_1h_delayed_15m"
TERMINAL_COUNT = "TERMINAL_ID_count_1h_delayed_15m"


def risk_pipeline(name: str, entity_key: str) -> FeaturePipeline:
    """Fraud counts and rates of the hour that ended 15 minutes before each record."""
    step = {
        "type": "label_window_aggregation",
        "entity_key": entity_key,
        "windows": ["1h"],
        "delay": "15m",
        "aggregations": ["count", "fraud_rate"],
    }
    return FeaturePipeline.from_document(
        {"name": name, "source": SOURCE, "transformations": [step]}
    )


TERMINAL_RISK = risk_pipeline("terminal-risk", "TERMINAL_ID")
CUSTOMER_RISK = risk_pipeline("customer-risk", "CUSTOMER_ID")


def artifact(pipeline: FeaturePipeline | None, width: int = 2) -> bytes:
    """A model that scores its input's first column, with the pipeline fitted inside as
    training puts it there."""
    row = helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, width])
    score = helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, width])
    node = helper.make_node("Identity", ["input"], ["score"])
    graph = helper.make_graph([node], pipeline.name if pipeline else "fields", [row], [score])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if pipeline is not None:
        fitted = json.dumps(fit(pipeline, []).to_json(), sort_keys=True)
        helper.set_model_props(model, {PIPELINE_METADATA: fitted})
    return bytes(model.SerializeToString())


def served(
    settings: Settings,
    desk: Casework,
    pipeline: FeaturePipeline | None,
    line: str = LINE,
    stage: ModelStage = ModelStage.CHAMPION,
) -> ModelCard:
    """A version stored and registered on its line: a new line's champion, else put in `stage`."""
    card = ModelCard(
        model_line=line,
        version="",
        source=SOURCE,
        algorithm="isolation_forest",
        features=pipeline.window_feature_names if pipeline else ("TX_AMOUNT",),
        bands=SeverityBands(threshold=0.6, high=0.8, critical=0.95),
        metrics={},
        parameters={},
        training_rows=1,
        training_fingerprint="",
        trained_at=T0,
        pipeline=pipeline.name if pipeline else None,
    )
    card = build_model_store(settings).put(artifact(pipeline), card)
    registered = register_version(desk, TENANT, "owner", card)
    if registered.line.model_version(card.version).stage is not stage:
        move_version(desk, TENANT, "owner", line, card.version, stage, "to compare")
    return card


def envelope(record_id: str, minutes: float, terminal: str = "t1") -> RecordEnvelope:
    return RecordEnvelope(
        tenant_id=TENANT,
        source=SOURCE,
        record_id=record_id,
        data={"TERMINAL_ID": terminal, "CUSTOMER_ID": "c1", "TX_AMOUNT": 42.0},
        entity_id="c1",
        occurred_at=T0 + timedelta(minutes=minutes),
    )


async def observed(
    windows: WindowStore, record: RecordEnvelope, pipeline: FeaturePipeline = TERMINAL_RISK
) -> dict[str, float | None]:
    """The record's window features, as the score worker computes them."""
    item = window_input(record)
    assert item is not None
    [features] = await windows.observe(pipeline, [item])
    return features


async def alerted(
    desk: Casework, windows: WindowStore, record: RecordEnvelope, card: ModelCard
) -> UUID:
    """Observed, scored and raised on, as the score worker does; the alert's id."""
    await observed(windows, record)
    raised = detection(
        record.record_id,
        tenant_id=TENANT,
        source=SOURCE,
        model_line=card.model_line,
        model_version=card.version,
        entity_id=record.entity_id,
        record=record.data,
        occurred_at=record.occurred_at,
    )
    desk.raise_alerts([raised])
    return raised.alert_id


def label(desk: Casework, record_id: str, verdict: Verdict = Verdict.FRAUD) -> None:
    subject = (SOURCE, SubjectKind.RECORD, record_id)
    desk.label(TENANT, "analyst", subject, verdict, LabelSource.CHARGEBACK)


@pytest.fixture
async def windows(settings: Settings) -> AsyncIterator[WindowStore]:
    """In process on the embedded default, in Redis on the production shape."""
    async with open_window_store(settings) as store:
        yield store


@pytest.fixture
def follower(settings: Settings, desk: Casework, windows: WindowStore) -> LabelFollower:
    return build_label_follower(settings, desk, windows)


async def test_a_confirmed_fraud_reaches_the_terminal_risk_of_the_next_record_past_the_delay(
    settings: Settings, desk: Casework, windows: WindowStore, follower: LabelFollower
) -> None:
    card = served(settings, desk, TERMINAL_RISK)
    alert_id = await alerted(desk, windows, envelope("tx-1", 0), card)
    case = desk.open_case(TENANT, "analyst", "stolen card", Priority.HIGH, [alert_id])
    desk.close_case(TENANT, case.id, "analyst", Disposition.CONFIRMED_FRAUD, "cardholder says")

    fed = await follower.catch_up()

    assert (fed.labels, fed.slots_set, fed.missed) == (1, 1, 0)
    features = await observed(windows, envelope("tx-2", 20))
    assert (features[TERMINAL_COUNT], features[TERMINAL_RATE]) == (1.0, 1.0)


async def test_a_record_within_the_delay_does_not_see_the_fraud_yet(
    settings: Settings, desk: Casework, windows: WindowStore, follower: LabelFollower
) -> None:
    card = served(settings, desk, TERMINAL_RISK)
    await alerted(desk, windows, envelope("tx-1", 0), card)
    label(desk, "tx-1")
    await follower.catch_up()

    features = await observed(windows, envelope("tx-2", 10))

    assert (features[TERMINAL_COUNT], features[TERMINAL_RATE]) == (0.0, 0.0)


async def test_a_revoked_label_leaves_the_record_counted_as_genuine_again(
    settings: Settings, desk: Casework, windows: WindowStore, follower: LabelFollower
) -> None:
    card = served(settings, desk, TERMINAL_RISK)
    await alerted(desk, windows, envelope("tx-1", 0), card)
    label(desk, "tx-1")
    await follower.catch_up()
    subject = (SOURCE, SubjectKind.RECORD, "tx-1")
    desk.revoke_label(TENANT, "analyst", subject, "the chargeback was withdrawn")

    fed = await follower.catch_up()

    assert (fed.labels, fed.slots_set) == (1, 1)
    features = await observed(windows, envelope("tx-2", 20))
    assert (features[TERMINAL_COUNT], features[TERMINAL_RATE]) == (1.0, 0.0)


async def test_a_chargeback_on_a_record_that_raised_no_alert_reaches_the_terminal_risk(
    settings: Settings, desk: Casework, windows: WindowStore, follower: LabelFollower
) -> None:
    served(settings, desk, TERMINAL_RISK)
    earlier = [envelope(f"tx-{n}", 7 * n, terminal=f"t{n % 2}") for n in range(10)]
    for record in earlier:  # scored, and let through: no alert
        await observed(windows, record)
    frauds = {"tx-1", "tx-4", "tx-5", "tx-8"}
    for record_id in sorted(frauds):
        label(desk, record_id)
    label(desk, "tx-2", Verdict.LEGIT)

    fed = await follower.catch_up()

    assert (fed.labels, fed.slots_set, fed.missed) == (5, 5, 0)
    later = [envelope(f"tx-{n}", 7 * n, terminal=f"t{n % 2}") for n in range(10, 16)]
    online = [await observed(windows, record) for record in later]
    assert online == (await offline_features([*earlier, *later], frauds))[len(earlier) :]
    assert all(features[TERMINAL_RATE] for features in online), "every later record reads frauds"


async def offline_features(
    records: list[RecordEnvelope], frauds: set[str]
) -> list[dict[str, float | None]]:
    """The window features of the training matrix, every label known with its record."""
    items = [window_input(r, int(r.record_id in frauds)) for r in records]
    return await InProcessWindowStore().observe(TERMINAL_RISK, [i for i in items if i])


async def test_a_label_on_a_record_the_windows_never_saw_is_counted_as_missed(
    settings: Settings, desk: Casework, windows: WindowStore, follower: LabelFollower
) -> None:
    served(settings, desk, TERMINAL_RISK)
    await observed(windows, envelope("tx-1", 0))
    label(desk, "tx-elsewhere")

    fed = await follower.catch_up()

    assert (fed.labels, fed.slots_set, fed.missed) == (1, 0, 1)


async def test_a_label_on_a_record_older_than_the_retention_is_counted_as_missed(
    settings: Settings, desk: Casework, windows: WindowStore, follower: LabelFollower
) -> None:
    served(settings, desk, TERMINAL_RISK)
    await observed(windows, envelope("tx-1", 0))
    # The label history keeps 150 minutes (twice its window and delay), places up to 19 more.
    await observed(windows, envelope("tx-2", 170, terminal="t2"))
    await observed(windows, envelope("tx-3", 171))
    label(desk, "tx-1")
    label(desk, "tx-2")

    fed = await follower.catch_up()

    assert (fed.labels, fed.slots_set, fed.missed) == (2, 1, 1)
    features = await observed(windows, envelope("tx-4", 190, terminal="t2"))
    assert (features[TERMINAL_COUNT], features[TERMINAL_RATE]) == (1.0, 1.0)


async def test_a_record_observed_before_places_were_kept_is_found_by_its_alert(
    settings: Settings, desk: Casework, redis: Redis, redis_prefix: str
) -> None:
    windows = RedisWindowStore(redis, redis_prefix)
    card = served(settings, desk, TERMINAL_RISK)
    await alerted(desk, windows, envelope("tx-1", 0), card)
    await observed(windows, envelope("tx-2", 1))
    places = [key async for key in redis.scan_iter(f"{redis_prefix}:fr:*")]
    await redis.delete(*places)  # as an older version of the store left them
    label(desk, "tx-1")
    label(desk, "tx-2")

    fed = await build_label_follower(settings, desk, windows).catch_up()

    assert (fed.labels, fed.slots_set, fed.missed) == (2, 1, 1)
    features = await observed(windows, envelope("tx-3", 20))
    assert (features[TERMINAL_COUNT], features[TERMINAL_RATE]) == (2.0, 0.5)


async def test_labels_on_entities_and_on_sources_without_label_windows_are_passed_over(
    settings: Settings, desk: Casework, windows: WindowStore, follower: LabelFollower
) -> None:
    card = served(settings, desk, None)
    await alerted(desk, windows, envelope("tx-1", 0), card)
    label(desk, "tx-1")
    subject = (SOURCE, SubjectKind.ENTITY, "t1")
    desk.label(TENANT, "analyst", subject, Verdict.FRAUD, LabelSource.ANALYST)

    fed = await follower.catch_up()

    assert (fed.labels, fed.slots_set, fed.missed) == (0, 0, 0)
    assert fed.position > 0


async def test_the_pipelines_of_the_champion_and_of_every_shadow_are_labelled(
    settings: Settings, desk: Casework, windows: WindowStore, follower: LabelFollower
) -> None:
    card = served(settings, desk, TERMINAL_RISK)
    served(settings, desk, CUSTOMER_RISK, stage=ModelStage.SHADOW)
    served(settings, desk, None, line="cards-fields")
    for pipeline in (TERMINAL_RISK, CUSTOMER_RISK):
        await observed(windows, envelope("tx-1", 0), pipeline)
    await alerted(desk, windows, envelope("tx-1", 0), card)
    label(desk, "tx-1")

    fed = await follower.catch_up()

    assert fed.slots_set == 2
    customer = await observed(windows, envelope("tx-2", 20, terminal="t2"), CUSTOMER_RISK)
    assert customer["CUSTOMER_ID_fraud_rate_1h_delayed_15m"] == 1.0
    lines = ModelLineDirectory(desk)
    pipelines = ServedPipelines(lines, build_model_store(settings)).labelling(TENANT, SOURCE)
    assert sorted(p.name for p in pipelines) == ["customer-risk", "terminal-risk"]


async def test_a_restarted_follower_feeds_nothing_twice_and_goes_on_from_its_position(
    settings: Settings, desk: Casework, redis: Redis, redis_prefix: str
) -> None:
    windows = RedisWindowStore(redis, redis_prefix)
    card = served(settings, desk, TERMINAL_RISK)
    for n in (1, 2):
        await alerted(desk, windows, envelope(f"tx-{n}", n), card)
    label(desk, "tx-1")
    first = await build_label_follower(settings, desk, windows).catch_up()
    label(desk, "tx-2")

    restarted = build_label_follower(settings, desk, RedisWindowStore(redis, redis_prefix))
    fed = await restarted.catch_up()

    assert (first.labels, fed.labels, fed.slots_set) == (1, 1, 1)
    assert (await restarted.catch_up()).labels == 0
    features = await observed(windows, envelope("tx-3", 20))
    assert (features[TERMINAL_COUNT], features[TERMINAL_RATE]) == (2.0, 1.0)


async def test_a_follower_that_lags_never_moves_the_kept_position_back(
    redis: Redis, redis_prefix: str
) -> None:
    position = RedisLabelPosition(redis, redis_prefix)
    await position.keep(12)
    await position.keep(7)

    assert await RedisLabelPosition(redis, redis_prefix).read() == 12


@pytest.mark.postgres
async def test_the_label_worker_feeds_labels_into_the_score_workers_redis_windows(
    postgres_settings: Settings,
) -> None:
    settings = postgres_settings
    desk = build_alert_desk(settings)
    stop = asyncio.Event()
    try:
        async with open_window_store(settings) as windows:
            card = served(settings, desk, TERMINAL_RISK)
            await alerted(desk, windows, envelope("tx-1", 0), card)
            label(desk, "tx-1")
            worker = asyncio.create_task(run_label_worker(settings, stop, every_seconds=0.05))
            features: dict[str, Any] = {}
            for n in range(2, 200):
                features = await observed(windows, envelope(f"tx-{n}", 20))
                if features[TERMINAL_RATE]:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(worker, timeout=10)
    finally:
        desk.close()
    assert features[TERMINAL_RATE] > 0
