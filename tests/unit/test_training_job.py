"""The TrainingJob aggregate: given events, when a command, then new events or a domain error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar
from uuid import uuid4

import pytest
from eventsourcing.application import Application

from tests.builders import T0
from vigil.domain.errors import DomainError, InvalidCommand
from vigil.domain.training_job import (
    TrainingFailure,
    TrainingJob,
    TrainingJobFinished,
    TrainingJobNotRunning,
    TrainingOrder,
    TrainingStatus,
)

E = TypeVar("E", bound=Exception)
ORDER = TrainingOrder("cards", "cards.csv", "lightgbm", label="TX_FRAUD", model_line="cards-lgbm")
VERSION = "c" * 64
LATER = T0 + timedelta(minutes=1)


def queued_job(order: TrainingOrder = ORDER) -> TrainingJob:
    job = TrainingJob.request(uuid4(), "acme", "olga", T0, order, "host-a:4242")
    job.collect_events()
    return job


@pytest.fixture
def running_job() -> TrainingJob:
    job = queued_job()
    job.start("system:training", T0)
    job.reach("system:training", T0, "fitting")
    job.collect_events()
    return job


@pytest.fixture
def succeeded_job(running_job: TrainingJob) -> TrainingJob:
    running_job.succeed("system:training", LATER, VERSION, new=True)
    running_job.collect_events()
    return running_job


@pytest.fixture
def failed_job(running_job: TrainingJob) -> TrainingJob:
    running_job.fail("system:training", LATER, "label", "every training row is 0")
    running_job.collect_events()
    return running_job


def refused_without_events(
    job: TrainingJob, error: type[E], command: Callable[[TrainingJob], object]
) -> E:
    with pytest.raises(error) as refused:
        command(job)
    assert job.collect_events() == []
    return refused.value


def test_a_requested_job_is_queued_with_who_asked_for_what_and_where_it_runs() -> None:
    job = queued_job()
    assert (job.status, job.requested_by, job.requested_at, job.runner) == (
        TrainingStatus.QUEUED,
        "olga",
        T0,
        "host-a:4242",
    )
    assert job.order == ORDER
    assert (job.stage, job.started_at, job.finished_at) == (None, None, None)


def test_a_job_is_requested_for_a_named_line_only() -> None:
    unnamed = TrainingOrder("cards", "cards.csv")
    with pytest.raises(InvalidCommand) as refused:
        TrainingJob.request(uuid4(), "acme", "olga", T0, unnamed, "host-a:1")
    assert refused.value.field == "model_line"


def test_a_job_needs_someone_who_asked_for_it() -> None:
    with pytest.raises(InvalidCommand) as refused:
        TrainingJob.request(uuid4(), "acme", " ", T0, ORDER, "host-a:1")
    assert refused.value.field == "actor"


def test_a_started_job_runs_and_keeps_every_stage_it_reaches_in_order() -> None:
    job = queued_job()
    job.start("system:training", T0)
    job.reach("system:training", T0, "computing features")
    job.reach("system:training", LATER, "fitting")

    assert [type(e).__name__ for e in job.collect_events()] == [
        "Started",
        "StageReached",
        "StageReached",
    ]
    assert (job.status, job.started_at, job.stage) == (TrainingStatus.RUNNING, T0, "fitting")
    assert [(s.stage, s.at) for s in job.stages] == [("computing features", T0), ("fitting", LATER)]


def test_a_job_is_started_once(running_job: TrainingJob) -> None:
    refused_without_events(running_job, TrainingJobNotRunning, lambda j: j.start("x", T0))


def test_a_queued_job_reaches_no_stage_and_cannot_succeed() -> None:
    job = queued_job()
    refused_without_events(job, TrainingJobNotRunning, lambda j: j.reach("x", T0, "fitting"))
    refused_without_events(job, TrainingJobNotRunning, lambda j: j.succeed("x", T0, VERSION, True))


def test_a_succeeded_job_names_the_version_it_registered(succeeded_job: TrainingJob) -> None:
    assert (succeeded_job.status, succeeded_job.registered_version) == (
        TrainingStatus.SUCCEEDED,
        VERSION,
    )
    assert (succeeded_job.new_version, succeeded_job.finished_at) == (True, LATER)


def test_a_failed_job_keeps_the_field_at_fault_and_the_reason(failed_job: TrainingJob) -> None:
    assert failed_job.status is TrainingStatus.FAILED
    assert failed_job.failure == TrainingFailure("label", "every training row is 0")
    assert failed_job.finished_at == LATER


def test_a_queued_job_can_fail_without_a_field_when_the_server_stopped() -> None:
    job = queued_job()
    job.fail("system:training", LATER, None, "interrupted")
    assert job.failure == TrainingFailure(None, "interrupted")
    assert job.started_at is None


def test_a_failure_needs_a_reason(running_job: TrainingJob) -> None:
    refused_without_events(running_job, InvalidCommand, lambda j: j.fail("x", T0, None, " "))


@pytest.mark.parametrize("ended", ["succeeded_job", "failed_job"])
@pytest.mark.parametrize(
    "command",
    [
        lambda j: j.start("x", T0),
        lambda j: j.reach("x", T0, "fitting"),
        lambda j: j.succeed("x", T0, VERSION, True),
        lambda j: j.fail("x", T0, None, "interrupted"),
    ],
)
def test_nothing_follows_the_end_of_a_job(
    request: pytest.FixtureRequest, ended: str, command: Callable[[TrainingJob], object]
) -> None:
    job: TrainingJob = request.getfixturevalue(ended)
    error = refused_without_events(job, DomainError, command)
    assert isinstance(error, TrainingJobFinished)


def test_a_job_read_back_from_its_events_is_the_job_that_was_recorded() -> None:
    app: Application[object] = Application()
    job = TrainingJob.request(uuid4(), "acme", "olga", T0, ORDER, "host-a:1")
    job.start("system:training", T0)
    job.reach("system:training", T0, "fitting")
    job.succeed("system:training", LATER, VERSION, new=False)
    app.save(job)

    copy = app.repository.get(job.id)

    assert isinstance(copy, TrainingJob)
    assert (copy.order, copy.status, copy.stages, copy.new_version) == (
        ORDER,
        TrainingStatus.SUCCEEDED,
        job.stages,
        False,
    )
