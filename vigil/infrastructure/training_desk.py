"""Training for the API, on files kept in the install's training folder: the same training as
`vigil train`, and the same pipeline matrix as `vigil features build`."""

from __future__ import annotations

import itertools
from pathlib import Path

import anyio

from vigil.application.alert_desk import AlertDesk
from vigil.application.data_sources import ContractBook
from vigil.application.features import FileFeatures, file_features
from vigil.application.ingestion import FileIngestion
from vigil.application.model_lines import Registered, register_version
from vigil.application.model_training import TrainingOrder
from vigil.application.ports import system_clock
from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.domain.source_contract import SourceContract
from vigil.infrastructure.detector_training import (
    TrainingError,
    TrainingRequest,
    train_model,
    train_model_on_features,
)
from vigil.infrastructure.model_store import ModelStore
from vigil.infrastructure.record_files import MalformedRecordFile
from vigil.infrastructure.record_readers import read_record_file
from vigil.infrastructure.yaml_documents import DocumentError, load_documents


async def pipeline_matrix(
    contracts: ContractBook,
    pseudonymiser: Pseudonymiser,
    pipeline_text: str,
    origin: str,
    data: Path,
    tenant_id: str,
    rows: int | None = None,
    label: str | None = None,
) -> FileFeatures:
    """The pipeline's matrix of the file's first `rows` records, under the contract of the
    pipeline's source as registered for the tenant; DocumentError names the line at fault."""
    source = parsed_pipeline(pipeline_text, origin).source
    compiled = await anyio.to_thread.run_sync(contracts.contract, tenant_id, source)
    pipeline = parsed_pipeline(pipeline_text, origin, compiled.contract)
    records, _ = read_record_file(data, compiled.contract)
    return await file_features(
        pipeline,
        itertools.islice(records, rows),
        FileIngestion(tenant_id, source, data.name),
        contracts,
        pseudonymiser,
        system_clock,
        label=label,
    )


def parsed_pipeline(
    text: str, origin: str, contract: SourceContract | None = None
) -> FeaturePipeline:
    """The one pipeline document of the text; with its source's contract, every field it reads
    is checked against the fields its records keep. DocumentError names the line at fault."""
    documents = load_documents(text, origin)
    if len(documents) != 1:
        raise DocumentError(origin, None, None, "must hold exactly one pipeline document")
    (document,) = documents
    fields = None
    if contract is not None:
        fields = [name for name in contract.properties if name not in contract.dropped]
    pipeline = document.parse(lambda body: FeaturePipeline.from_document(body, fields))
    if contract is not None and pipeline.source != contract.name:
        reason = f"is {pipeline.source!r}, but the records are of source {contract.name!r}"
        raise document.refused(InvalidCommand("source", reason))
    return pipeline


class TrainingDesk:
    """Implements `ModelTraining`."""

    def __init__(
        self,
        desk: AlertDesk,
        contracts: ContractBook,
        pseudonymiser: Pseudonymiser,
        store: ModelStore,
        folder: Path,
    ) -> None:
        self.desk = desk
        self.contracts = contracts
        self.pseudonymiser = pseudonymiser
        self.store = store
        self.folder = folder

    async def train(self, tenant_id: str, actor: str, order: TrainingOrder) -> Registered:
        data = self._data(order.data)
        request = TrainingRequest(
            source=order.source,
            data=data,
            model_line=order.model_line,
            label=order.label,
            alert_rate=order.alert_rate,
            n_estimators=order.n_estimators,
            algorithm=order.algorithm,
            holdout=order.holdout,
        )
        try:
            if order.pipeline is None:
                card = await anyio.to_thread.run_sync(train_model, request, self.store)
            else:
                features = await pipeline_matrix(
                    self.contracts, self.pseudonymiser, order.pipeline, "pipeline", data,
                    tenant_id, label=order.label,
                )  # fmt: skip
                if features.matrix.fitted.pipeline.source != order.source:
                    raise InvalidCommand("pipeline", f"is not of source {order.source!r}")
                card = await anyio.to_thread.run_sync(
                    train_model_on_features, request, features, self.store
                )
        except DocumentError as error:
            raise InvalidCommand(f"pipeline.{error.field or 'document'}", str(error)) from None
        except TrainingError as error:
            reason = str(error).replace(f"{self.folder}/", "")
            raise InvalidCommand(error.field, reason) from None
        except MalformedRecordFile as error:
            raise InvalidCommand("data", str(error).replace(f"{self.folder}/", "")) from None
        return await anyio.to_thread.run_sync(
            register_version, self.desk, tenant_id, actor, card, order.note
        )

    def _data(self, name: str) -> Path:
        # A name, not a path: nobody reads a file outside the training folder through the API.
        if not name or Path(name).name != name or name.startswith("."):
            raise InvalidCommand("data", "the name of a file in the training folder, no path")
        path = self.folder / name
        if not path.is_file():
            raise InvalidCommand("data", f"{name!r} is not in the training folder")
        return path
