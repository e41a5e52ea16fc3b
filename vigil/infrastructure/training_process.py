"""Training in a process of its own, so that minutes of fitting never hold the server's event
loop or its interpreter lock: the process is given plain values (the request, the folders, the
pipeline document and its source's contract, the tokenisation key), builds what it needs from
them, says which stage it has reached as it goes, and answers once, with the stored card or the
reason it refused. A fresh process per job (started by `spawn`, so no lock of the server's many
threads is inherited) costs a few seconds of imports, and gives back every byte the training
took when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import anyio

from vigil.application.data_sources import CompiledContract, SourceNotFound
from vigil.application.detection import ModelCard
from vigil.application.features import FileFeatures
from vigil.application.model_training import TrainingStage
from vigil.application.training_jobs import INTERRUPTED
from vigil.application.training_labels import overlaid, stored_verdicts
from vigil.domain.errors import InvalidCommand
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.domain.source_contract import SourceContract
from vigil.infrastructure.detector_training import (
    TrainingError,
    TrainingRequest,
    train_model,
    train_model_on_features,
)
from vigil.infrastructure.json_schema import FastJsonSchemaCompiler
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.pipeline_matrix import pipeline_matrix
from vigil.infrastructure.read_model.engine import create_read_engine
from vigil.infrastructure.read_model.label_book import SqlLabelBook
from vigil.infrastructure.record_files import MalformedRecordFile
from vigil.infrastructure.yaml_documents import DocumentError

log = logging.getLogger("vigil.training")

END_SECONDS = 5.0
"""How long a training process asked to end may take before it is killed."""


class TrainingRefused(Exception):
    """Training found the order cannot give a trustworthy model, or could not finish it."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class TrainingWork:
    """Everything a training process needs, as values it can be sent."""

    request: TrainingRequest
    models: Path
    """The model store's folder, where the artifact and its card are written."""
    folder: Path
    """The training folder, whose path is kept out of the reasons the API gives."""
    tenant_id: str
    pipeline: str | None = None
    contract: SourceContract | None = None
    """The source's contract as registered when the order was checked (pipelines only)."""
    contract_version: int = 0
    token_key: bytes = field(default=b"", repr=False)
    """Tokenises personal fields as intake does, so pipeline features read the same tokens."""
    read_model_url: str | None = field(default=None, repr=False)
    """The label book's database, when the labels are the event store's verdicts over the
    file's label column."""


@dataclass(frozen=True)
class _Reached:
    stage: str


@dataclass(frozen=True)
class _Trained:
    card: dict[str, Any]


@dataclass(frozen=True)
class _Refused:
    field: str | None
    reason: str


_Answer = _Reached | _Trained | _Refused


def run_training(work: TrainingWork, progress: Callable[[str], None]) -> ModelCard:
    """Trains, evaluates, exports, checks and stores, calling `progress` with each stage;
    TrainingRefused naming the part of the order at fault."""
    store = ModelStore(work.models)
    try:
        if work.pipeline is None:
            return train_model(work.request, store, progress)
        progress(TrainingStage.COMPUTING_FEATURES)
        features = asyncio.run(_features(work, work.pipeline))
        return train_model_on_features(work.request, features, store, progress)
    except DocumentError as error:
        raise TrainingRefused(f"pipeline.{error.field or 'document'}", str(error)) from None
    except TrainingError as error:
        raise TrainingRefused(_field_of(error, work), _unplaced(work, str(error))) from None
    except MalformedRecordFile as error:
        raise TrainingRefused("data", _unplaced(work, str(error))) from None
    except InvalidCommand as error:  # a label file_features refuses, on the line at fault
        raise TrainingRefused(error.field, error.reason) from None


async def _features(work: TrainingWork, pipeline: str) -> FileFeatures:
    if work.contract is None:
        raise TrainingRefused("source", "a pipeline needs its source's contract")
    compiled = CompiledContract.of(work.contract, work.contract_version, FastJsonSchemaCompiler())
    features = await pipeline_matrix(
        _OneContract(work.tenant_id, compiled),
        Pseudonymiser(work.token_key),
        pipeline,
        "pipeline",
        work.request.data,
        work.tenant_id,
        label=work.request.label,
        amount=work.request.amount,
    )
    if work.read_model_url is None:
        return features
    engine = create_read_engine(work.read_model_url)
    try:
        ids = features.matrix.record_ids
        stored = await stored_verdicts(
            SqlLabelBook(engine), work.tenant_id, work.request.source, ids
        )
    finally:
        await engine.dispose()
    return replace(features, labels=overlaid(ids, features.labels, stored))


class _OneContract:
    """The contract book of a training process: the one source's contract it was given."""

    def __init__(self, tenant_id: str, compiled: CompiledContract) -> None:
        self.tenant_id = tenant_id
        self.compiled = compiled

    def contract(self, tenant_id: str, name: str) -> CompiledContract:
        if (tenant_id, name) != (self.tenant_id, self.compiled.contract.name):
            raise SourceNotFound(name)
        return self.compiled


def _field_of(error: TrainingError, work: TrainingWork) -> str:
    # Training names `data` for every column it refuses; what it says of the label (one class
    # only, values other than 0 and 1) is the label's fault, and it says so first.
    label = work.request.label
    if error.field == "data" and label is not None and str(error).startswith(f"label {label!r}"):
        return "label"
    return error.field


def _unplaced(work: TrainingWork, reason: str) -> str:
    # Where the training folder is on the server is none of the API caller's business.
    return reason.replace(f"{work.folder}/", "")


def train_in_child(work: TrainingWork, answers: Connection) -> None:
    """The training process's whole life: trains, answers once, and ends."""
    try:
        card = run_training(work, lambda stage: answers.send(_Reached(str(stage))))
        answers.send(_Trained(card.to_json()))
    except TrainingRefused as refused:
        answers.send(_Refused(refused.field, refused.reason))
    except Exception as error:
        log.exception("training failed")
        reason = f"training failed: {type(error).__name__}: {error}"
        answers.send(_Refused(None, _unplaced(work, reason)))
    finally:
        answers.close()


class TrainingProcesses:
    """Starts a training process per job and relays its stages until it answers."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._running: set[BaseProcess] = set()
        self.stopping = False
        """Set once the server stops: what still trains ends, interrupted."""

    async def train(
        self, work: TrainingWork, reached: Callable[[str], Awaitable[None]]
    ) -> ModelCard:
        """The stored card; TrainingRefused when training refused, or its process ended
        without an answer."""
        if self.stopping:
            raise TrainingRefused(None, INTERRUPTED)
        receiving, sending = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=train_in_child, args=(work, sending), name="vigil-training", daemon=True
        )
        try:
            await anyio.to_thread.run_sync(process.start)
        finally:
            sending.close()  # the child's end: its exit is then the pipe's end
        self._running.add(process)
        if self.stopping:  # asked to stop while it started
            process.terminate()
        try:
            while True:
                answer = await self._answer(receiving, process)
                if isinstance(answer, _Reached):
                    await reached(answer.stage)
                elif isinstance(answer, _Trained):
                    return ModelCard.from_json(answer.card)
                else:
                    raise TrainingRefused(answer.field, answer.reason)
        finally:
            self._running.discard(process)
            await anyio.to_thread.run_sync(_ended, process)
            receiving.close()

    async def _answer(self, receiving: Connection, process: BaseProcess) -> _Answer:
        try:
            answer: _Answer = await anyio.to_thread.run_sync(receiving.recv, abandon_on_cancel=True)
            return answer
        except EOFError:
            await anyio.to_thread.run_sync(process.join, END_SECONDS)
            if self.stopping:
                raise TrainingRefused(None, INTERRUPTED) from None
            raise TrainingRefused(
                None, f"the training process ended without an answer (exit code {process.exitcode})"
            ) from None

    def stop(self) -> None:
        """Ends every training process; their jobs fail as interrupted."""
        self.stopping = True
        for process in list(self._running):
            process.terminate()


def _ended(process: BaseProcess) -> None:
    if process.is_alive():
        process.terminate()
    process.join(END_SECONDS)
    if process.is_alive():
        process.kill()
        process.join()
