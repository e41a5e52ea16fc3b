"""Training for the API, as jobs, on files kept in the install's training folder: the same
training as `vigil train`, and the same pipeline matrix as `vigil features build`.

An order is checked at once and recorded as a TrainingJob; the job then waits for a free slot,
trains in a process of its own (`training_process`), and records each stage it reaches and how
it ended. The jobs run in the server process that accepted them: one that stops ends its
training processes and fails their jobs as interrupted, and one that starts fails, as
interrupted, the unfinished jobs no live server process holds (a server that was killed).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import anyio

from vigil.application.alert_desk import AlertDesk
from vigil.application.data_sources import ContractBook
from vigil.application.model_lines import register_version
from vigil.application.model_training import TrainingStage
from vigil.application.training_jobs import (
    INTERRUPTED,
    TrainingJobDirectory,
    fail_interrupted,
    find_training_job,
    reach_stage,
    request_training,
    start_training,
    training_failed,
    training_succeeded,
)
from vigil.domain.errors import DomainError, InvalidCommand
from vigil.domain.training_job import TrainingJob, TrainingOrder
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.pipeline_matrix import parsed_pipeline, pipeline_matrix
from vigil.infrastructure.training_orders import OrderChecks
from vigil.infrastructure.training_process import TrainingProcesses, TrainingRefused, TrainingWork

__all__ = ["TrainingDesk", "parsed_pipeline", "pipeline_matrix", "this_process"]
# `vigil features build` reads the pipeline's matrix from here, as it always has.

log = logging.getLogger("vigil.training")

CLOSE_SECONDS = 10.0
"""How long a stopping server waits for its jobs to record that they were interrupted."""


def this_process() -> str:
    """The server process, as a job's runner: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


class TrainingDesk:
    """Implements `ModelTraining`, training at most `slots` jobs at a time."""

    def __init__(
        self,
        desk: AlertDesk,
        contracts: ContractBook,
        token_key: bytes,
        store: ModelStore,
        folder: Path,
        read_model_url: str,
        slots: int = 1,
        processes: TrainingProcesses | None = None,
    ) -> None:
        self.desk = desk
        self.checks = OrderChecks(desk, contracts, folder, store.root, token_key, read_model_url)
        self.directory = TrainingJobDirectory(desk)
        self.processes = processes or TrainingProcesses()
        self.runner = this_process()
        self.slots = slots
        self._free: anyio.Semaphore | None = None
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        """The jobs this desk runs or queues; the loop itself keeps only weak references."""

    async def start(self) -> None:
        """Fails, as interrupted, what a server that is gone left queued or running."""
        failed = await anyio.to_thread.run_sync(
            fail_interrupted, self.desk, self.directory, self._orphaned
        )
        for job in failed:
            log.warning("training job %s of %s was interrupted", job.id, job.tenant_id)

    async def close(self) -> None:
        """Ends the training processes; their jobs, and those still queued, fail as
        interrupted."""
        self.processes.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=CLOSE_SECONDS)

    async def request(self, tenant_id: str, actor: str, order: TrainingOrder) -> TrainingJob:
        checked, work = await anyio.to_thread.run_sync(self.checks.work, tenant_id, order)
        job = await anyio.to_thread.run_sync(
            request_training, self.desk, uuid4(), tenant_id, actor, checked, self.runner
        )
        task = asyncio.get_running_loop().create_task(self._run(job, work), name=f"job {job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job.id, None))
        return job

    async def job(self, tenant_id: str, job_id: UUID) -> TrainingJob | None:
        return await anyio.to_thread.run_sync(find_training_job, self.desk, tenant_id, job_id)

    async def jobs(self, tenant_id: str, first: int) -> list[TrainingJob]:
        return await anyio.to_thread.run_sync(self.directory.latest, tenant_id, first)

    async def _run(self, job: TrainingJob, work: TrainingWork) -> None:
        try:
            async with self._slot():
                if self.processes.stopping:
                    raise TrainingRefused(None, INTERRUPTED)
                await self._record(start_training, job.tenant_id, job.id)
                await self._stage(job, TrainingStage.STARTING)
                card = await self.processes.train(work, lambda stage: self._stage(job, stage))
                await self._stage(job, TrainingStage.REGISTERING)
                registered = await anyio.to_thread.run_sync(
                    register_version, self.desk, job.tenant_id, job.requested_by, card,
                    job.order.note,
                )  # fmt: skip
                await self._record(training_succeeded, job.tenant_id, job.id, registered)
        except TrainingRefused as refused:
            await self._fail(job, refused.field, refused.reason)
        except InvalidCommand as error:  # the line changed while it trained
            await self._fail(job, error.field, error.reason)
        except Exception as error:
            log.exception("training job %s failed", job.id)
            await self._fail(job, None, f"{type(error).__name__}: {error}")

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if self._free is None:  # made on the server's own event loop, where the jobs run
            self._free = anyio.Semaphore(self.slots)
        async with self._free:
            yield

    async def _stage(self, job: TrainingJob, stage: str) -> None:
        await self._record(reach_stage, job.tenant_id, job.id, stage)

    async def _record(self, use_case: Callable[..., TrainingJob], *args: Any) -> None:
        await anyio.to_thread.run_sync(use_case, self.desk, *args)

    async def _fail(self, job: TrainingJob, field: str | None, reason: str) -> None:
        try:
            await self._record(training_failed, job.tenant_id, job.id, field, reason)
        except DomainError:
            # Ended already (it succeeded just as the server stopped): its end stands.
            log.warning("training job %s could not be failed: %s", job.id, reason)
        except Exception:
            # The next server to start fails it as interrupted.
            log.exception(
                "training job %s failed (%s), which could not be recorded", job.id, reason
            )

    def _orphaned(self, job: TrainingJob) -> bool:
        """No live server process holds the job. A process of this host is asked directly; a
        job of another host is taken for orphaned too, since nothing says whether its server
        lives (jobs run where they were accepted, so run training on one server)."""
        if job.id in self._tasks:
            return False
        host, _, pid = job.runner.rpartition(":")
        if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
            return True
        return not _alive(int(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
