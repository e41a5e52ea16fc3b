"""Training jobs as use cases: request one, record its start, stages and end, fail the ones a
stopped server left unfinished, and the directory of jobs the API lists.

Jobs are saved through the alerts' application, beside the model lines they register versions
on, so who asked for which training, and how it ended, is in the one log auditors replay. The
directory follows that log and reads only the TrainingJob events stored since its last look.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

from eventsourcing.utils import get_topic

from vigil.application.alert_desk import AlertDesk
from vigil.application.log_changes import changed_since
from vigil.application.model_lines import Registered
from vigil.domain.training_job import TrainingJob, TrainingJobNotFound, TrainingOrder

TRAINER = "system:training"
"""Who records a job's start, stages and end: the server, on the requester's behalf."""

INTERRUPTED = "interrupted: the server stopped before the training finished; train it again"

_TOPICS = [
    get_topic(event)
    for event in (
        TrainingJob.Requested,
        TrainingJob.Started,
        TrainingJob.StageReached,
        TrainingJob.Succeeded,
        TrainingJob.Failed,
    )
]


def request_training(
    desk: AlertDesk, job_id: UUID, tenant_id: str, actor: str, order: TrainingOrder, runner: str
) -> TrainingJob:
    job = TrainingJob.request(job_id, tenant_id, actor, desk.clock(), order, runner)
    desk.save(job)
    return job


def find_training_job(desk: AlertDesk, tenant_id: str, job_id: UUID) -> TrainingJob | None:
    return desk.owned(tenant_id, job_id, TrainingJob)


def start_training(desk: AlertDesk, tenant_id: str, job_id: UUID) -> TrainingJob:
    return _record(desk, tenant_id, job_id, lambda job: job.start(TRAINER, desk.clock()))


def reach_stage(desk: AlertDesk, tenant_id: str, job_id: UUID, stage: str) -> TrainingJob:
    return _record(desk, tenant_id, job_id, lambda job: job.reach(TRAINER, desk.clock(), stage))


def training_succeeded(
    desk: AlertDesk, tenant_id: str, job_id: UUID, registered: Registered
) -> TrainingJob:
    version, new = registered.version.version, registered.new
    return _record(
        desk, tenant_id, job_id, lambda job: job.succeed(TRAINER, desk.clock(), version, new)
    )


def training_failed(
    desk: AlertDesk, tenant_id: str, job_id: UUID, field: str | None, reason: str
) -> TrainingJob:
    return _record(
        desk, tenant_id, job_id, lambda job: job.fail(TRAINER, desk.clock(), field, reason)
    )


def _record(
    desk: AlertDesk, tenant_id: str, job_id: UUID, command: Callable[[TrainingJob], None]
) -> TrainingJob:
    job = find_training_job(desk, tenant_id, job_id)
    if job is None:
        raise TrainingJobNotFound(job_id)
    command(job)
    desk.save(job)
    return job


def fail_interrupted(
    desk: AlertDesk, directory: TrainingJobDirectory, orphaned: Callable[[TrainingJob], bool]
) -> list[TrainingJob]:
    """Fails every unfinished job that `orphaned` says no running server holds, as
    interrupted; returns them, failed."""
    directory.refresh()
    return [
        training_failed(desk, job.tenant_id, job.id, None, INTERRUPTED)
        for job in directory.unfinished()
        if orphaned(job)
    ]


class TrainingJobDirectory:
    """Every tenant's training jobs, current as of the last `refresh`; safe to share between
    threads."""

    def __init__(self, desk: AlertDesk) -> None:
        self.desk = desk
        self.position = 0
        """The notification id of the last TrainingJob event read."""
        self._jobs: dict[UUID, TrainingJob] = {}
        """In the order the jobs were requested: a job's first event is its Requested."""
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Reads what changed since the last look. Blocking: async callers use a thread."""
        with self._lock:
            self.position, changed = changed_since(self.desk, self.position, _TOPICS, TrainingJob)
            for job in changed:
                self._jobs[job.id] = job

    def latest(self, tenant_id: str, first: int) -> list[TrainingJob]:
        """Refreshed, then the tenant's latest `first` jobs, the most recently requested first."""
        self.refresh()
        with self._lock:
            jobs = list(self._jobs.values())
        return [job for job in reversed(jobs) if job.tenant_id == tenant_id][:first]

    def unfinished(self) -> list[TrainingJob]:
        """Every tenant's queued and running jobs, as of the last refresh."""
        with self._lock:
            return [job for job in self._jobs.values() if not job.finished]
