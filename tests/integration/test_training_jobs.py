"""Training as a job over GraphQL, on both stores: the order is checked and answered queued at
once, trains in a process of its own and records every stage; a job ends succeeded with its
version registered, or failed with the field at fault; the log names who asked; a server that
stops fails what it still trains, and one that starts fails what a killed one left running."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pandas as pd
import pytest
from litestar.testing import AsyncTestClient

from tests.graphql_client import TENANT, data, graphql
from tests.integration.conftest import api_key_of
from tests.integration.training_service import (
    TRAIN,
    ended_job,
    job_when,
    label_book_caught_up,
    payments_file,
    payments_registered,
    unlabelled_file,
)
from vigil.application.casework import Casework
from vigil.application.model_training import TrainingStage
from vigil.application.training_jobs import INTERRUPTED, TRAINER, request_training
from vigil.bootstrap import (
    build_identity,
    build_read_engine,
    build_read_models,
    build_training_desk,
)
from vigil.cli_sources import apply_file
from vigil.domain.label import LabelSource, SubjectKind, Verdict
from vigil.domain.training_job import TrainingJob, TrainingOrder, TrainingStatus
from vigil.infrastructure.settings import Settings
from vigil.web.app import WebDeps, create_app
from vigil.web.auth import API_KEY_HEADER

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHAMPION_METRICS = '{ modelLine(name: "cards-lightgbm") { champion { metrics } } }'
JOB_STATUS = "query Job($id: ID!) { trainingJob(id: $id) { status stage error { field message } } }"
JOBS = "query Jobs($first: Int) { trainingJobs(first: $first) { id status requestedBy } }"


@asynccontextmanager
async def serving(
    settings: Settings, desk: Casework, user: str = "olga", role: str = "model_owner"
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The API with training as `vigil serve` wires it: unfinished jobs failed as it starts,
    training processes ended as it stops; the client calls as `user` with `role`."""
    engine = build_read_engine(settings)
    identity = build_identity(settings)
    training = build_training_desk(settings, desk)
    deps = WebDeps(
        alert_desk=desk,
        read_models=build_read_models(settings, engine),
        identity=identity.identity,
        csrf_secret="test-csrf-secret",
        training=training,
        on_startup=[training.start],
        on_shutdown=[training.close, engine.dispose, identity.close],
    )
    key = api_key_of(settings, user, role)
    async with AsyncTestClient(create_app(deps)) as client:
        client.headers[API_KEY_HEADER] = key
        yield client


@pytest.fixture
async def client(settings: Settings, desk: Casework) -> AsyncIterator[AsyncTestClient[Any]]:
    """Olga, a model owner, on a server whose tenant has the payments source."""
    payments_registered(settings)
    async with serving(settings, desk) as client:
        yield client


async def started(client: AsyncTestClient[Any], **order: Any) -> dict[str, Any]:
    job: dict[str, Any] = (await data(client, TRAIN, input=order))["trainModel"]
    assert job["__typename"] == "TrainingJob", job
    return job


async def test_a_job_is_answered_queued_at_once_then_succeeds_with_its_version_registered(
    settings: Settings, client: AsyncTestClient[Any]
) -> None:
    unlabelled_file(settings, "plain.csv")

    job = await started(client, source="payments", data="plain.csv", nEstimators=10)

    assert (job["status"], job["stage"], job["startedAt"], job["finishedAt"]) == (
        "QUEUED",
        None,
        None,
        None,
    )
    assert (job["requestedBy"], job["modelLine"], job["algorithm"]) == (
        "olga",
        "payments-iforest",
        "isolation_forest",
    )
    ended = await ended_job(client, job["id"])
    assert (ended["status"], ended["error"], ended["newVersion"]) == ("SUCCEEDED", None, True)
    assert [s["stage"] for s in ended["stages"]] == [
        TrainingStage.STARTING,
        TrainingStage.READING,
        TrainingStage.FITTING,
        TrainingStage.CHECKING_PARITY,
        TrainingStage.EVALUATING,
        TrainingStage.STORING,
        TrainingStage.REGISTERING,
    ]
    assert ended["stage"] == TrainingStage.REGISTERING
    assert ended["requestedAt"] < ended["startedAt"] < ended["finishedAt"]
    line = await data(client, '{ modelLine(name: "payments-iforest") { champion { version } } }')
    assert line["modelLine"]["champion"]["version"] == ended["version"]


async def test_a_job_through_a_feature_pipeline_computes_its_features_before_it_fits(
    settings: Settings, desk: Casework, card_slice: Path
) -> None:
    apply_file(desk, TENANT, "dana", EXAMPLES / "sources" / "cards.yaml", "")
    settings.storage.training.mkdir(parents=True, exist_ok=True)
    shutil.copy(card_slice, settings.storage.training / "cards.csv")
    pipeline = (EXAMPLES / "pipelines" / "card_features.yaml").read_text()
    async with serving(settings, desk) as client:
        job = await started(
            client, source="cards", data="cards.csv", pipeline=pipeline, nEstimators=10
        )
        ended = await ended_job(client, job["id"])
        line = await data(client, '{ modelLine(name: "cards-iforest") { champion { pipeline } } }')

    assert (ended["status"], ended["error"]) == ("SUCCEEDED", None)
    assert [s["stage"] for s in ended["stages"]] == [
        TrainingStage.STARTING,
        TrainingStage.COMPUTING_FEATURES,
        TrainingStage.FITTING,
        TrainingStage.CHECKING_PARITY,
        TrainingStage.EVALUATING,
        TrainingStage.STORING,
        TrainingStage.REGISTERING,
    ]
    assert line["modelLine"]["champion"]["pipeline"] == "card_features"


async def test_a_job_learns_from_the_verdicts_the_event_store_holds(
    settings: Settings, desk: Casework, card_slice: Path
) -> None:
    """No label column: the frauds are the ones chargebacks recorded, here the slice's 40
    largest payments (its first 3,000 transactions hold no fraud of the handbook's)."""
    apply_file(desk, TENANT, "dana", EXAMPLES / "sources" / "cards.yaml", "")
    settings.storage.training.mkdir(parents=True, exist_ok=True)
    shutil.copy(card_slice, settings.storage.training / "cards.csv")
    frauds = pd.read_csv(card_slice).nlargest(40, "TX_AMOUNT")["TRANSACTION_ID"]
    for record_id in frauds:
        subject = ("cards", SubjectKind.RECORD, str(record_id))
        desk.label(TENANT, "ann", subject, Verdict.FRAUD, LabelSource.CHARGEBACK)
    await label_book_caught_up(settings)
    pipeline = (EXAMPLES / "pipelines" / "card_features.yaml").read_text()
    order = {"source": "cards", "data": "cards.csv", "pipeline": pipeline, "holdout": 0}

    async with serving(settings, desk) as client:
        job = await started(client, **order, algorithm="lightgbm", storedLabels=True)
        ended = await ended_job(client, job["id"])
        version = await data(client, CHAMPION_METRICS)

    assert (ended["status"], ended["error"], ended["label"]) == ("SUCCEEDED", None, None)
    metrics = version["modelLine"]["champion"]["metrics"]
    assert metrics["label_rate"] == pytest.approx(40 / 3_000)


@pytest.mark.parametrize(
    ("frauds", "label", "reason"),
    [
        (0, "", "every training row is 0"),  # nothing to learn frauds from
        (12, "yes", "must hold only 0 and 1"),  # a label column of words
    ],
)
async def test_a_job_whose_labels_cannot_teach_a_model_fails_naming_the_label(
    settings: Settings,
    client: AsyncTestClient[Any],
    frauds: int,
    label: str,
    reason: str,
) -> None:
    payments_file(settings, "labelled.csv", frauds=frauds, label=label)

    job = await started(
        client, source="payments", data="labelled.csv", algorithm="lightgbm", label="is_fraud"
    )

    ended = await ended_job(client, job["id"])
    assert (ended["status"], ended["version"]) == ("FAILED", None)
    assert ended["error"]["field"] == "label"
    assert reason in ended["error"]["message"]
    assert str(settings.storage.training) not in ended["error"]["message"]
    assert ended["stages"][-1]["stage"] == TrainingStage.READING
    line = await data(client, '{ modelLine(name: "payments-lightgbm") { name } }')
    assert line["modelLine"] is None


async def test_orders_refused_before_training_start_no_job(
    settings: Settings, client: AsyncTestClient[Any]
) -> None:
    unlabelled_file(settings, "plain.csv")

    unknown = await data(client, TRAIN, input={"source": "sensors", "data": "plain.csv"})
    supervised = await data(
        client, TRAIN, input={"source": "payments", "data": "plain.csv", "algorithm": "xgboost"}
    )

    assert unknown["trainModel"]["__typename"] == "NotFoundError"
    assert "sensors" in unknown["trainModel"]["message"]
    assert supervised["trainModel"] == {
        "__typename": "InvalidInputError",
        "field": "label",
        "message": "xgboost learns from labels: name the column, or use stored labels",
    }
    stored = await data(
        client, TRAIN, input={"source": "payments", "data": "plain.csv", "storedLabels": True}
    )
    assert stored["trainModel"]["__typename"] == "InvalidInputError"
    assert stored["trainModel"]["field"] == "stored_labels"
    assert (await data(client, JOBS))["trainingJobs"] == []


async def test_the_log_names_who_asked_for_the_training_and_how_it_ended(
    settings: Settings, desk: Casework
) -> None:
    """A server that stops while it trains fails the job, and the one queued behind it, as
    interrupted; the job's events say who asked, for what, and who recorded the rest."""
    payments_registered(settings)
    unlabelled_file(settings, "plain.csv")
    async with serving(settings, desk) as client:
        first = await started(client, source="payments", data="plain.csv", note="for the audit")
        second = await started(client, source="payments", data="plain.csv", modelLine="other")
        await job_when(client, first["id"], {"RUNNING"})
        assert (await data(client, JOBS, first=1))["trainingJobs"] == [
            {"id": second["id"], "status": "QUEUED", "requestedBy": "olga"}
        ]

    events = desk.events.get(UUID(first["id"]))
    requested, *rest = events
    assert isinstance(requested, TrainingJob.Requested)
    assert (requested.actor, requested.tenant_id) == ("olga", TENANT)
    assert requested.order["data"] == "plain.csv"
    assert requested.order["note"] == "for the audit"
    assert [type(e).__name__ for e in rest] == ["Started", "StageReached", "Failed"]
    assert {e.actor for e in rest} == {TRAINER}
    failed = rest[-1]
    assert isinstance(failed, TrainingJob.Failed)
    assert (failed.field, failed.reason) == (None, INTERRUPTED)
    queued = desk.repository.get(UUID(second["id"]))
    assert isinstance(queued, TrainingJob)
    assert (queued.status, queued.started_at) == (TrainingStatus.FAILED, None)


def a_gone_process() -> str:
    """A runner that has ended: a process of this host that printed its pid and exited."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return f"{socket.gethostname()}:{int(ended.stdout)}"


def a_live_server() -> str:
    """A runner that lives on this host beside the tests: the process that started them."""
    return f"{socket.gethostname()}:{os.getppid()}"


async def test_a_server_starting_fails_the_jobs_a_killed_server_left_unfinished(
    settings: Settings, desk: Casework
) -> None:
    order = TrainingOrder("payments", "plain.csv", model_line="payments-iforest")
    killed = request_training(desk, uuid4(), TENANT, "olga", order, a_gone_process())
    killed.start(TRAINER, desk.clock())
    killed.reach(TRAINER, desk.clock(), TrainingStage.FITTING)
    desk.save(killed)
    queued = request_training(desk, uuid4(), TENANT, "olga", order, a_gone_process())
    # A server beside this one, alive, is left to finish its own job.
    alive = request_training(desk, uuid4(), TENANT, "olga", order, a_live_server())

    async with serving(settings, desk) as client:
        jobs = [
            (await data(client, JOB_STATUS, id=str(job.id)))["trainingJob"]
            for job in (killed, queued, alive)
        ]

    assert [job["status"] for job in jobs] == ["FAILED", "FAILED", "QUEUED"]
    assert jobs[0]["error"] == {"field": None, "message": INTERRUPTED}
    assert jobs[0]["stage"] == TrainingStage.FITTING


async def test_an_analyst_follows_training_jobs_but_may_not_start_one(
    settings: Settings, desk: Casework
) -> None:
    order = TrainingOrder("payments", "plain.csv", model_line="payments-iforest")
    job = request_training(desk, uuid4(), TENANT, "olga", order, a_live_server())
    async with serving(settings, desk, "ann", "analyst") as client:
        seen = await data(client, JOB_STATUS, id=str(job.id))
        refused = await graphql(client, TRAIN, input={"source": "payments", "data": "plain.csv"})

    assert seen["trainingJob"]["status"] == "QUEUED"
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_another_tenant_sees_no_training_job(settings: Settings, desk: Casework) -> None:
    order = TrainingOrder("payments", "plain.csv", model_line="payments-iforest")
    job = request_training(desk, uuid4(), "globex", "gina", order, a_live_server())
    async with serving(settings, desk) as client:
        answer = await data(client, JOB_STATUS, id=str(job.id))
        listed = await data(client, JOBS)

    assert answer["trainingJob"] is None
    assert listed["trainingJobs"] == []
