"""A feature pipeline document read and checked, and its matrix of a record file: what
`vigil features build` prints and what training over the API fits on."""

from __future__ import annotations

import itertools
from pathlib import Path

import anyio

from vigil.application.data_sources import ContractBook
from vigil.application.features import FileFeatures, file_features
from vigil.application.ingestion import FileIngestion
from vigil.application.ports import system_clock
from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.pseudonyms import Pseudonymiser
from vigil.domain.source_contract import SourceContract
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
    amount: str | None = None,
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
        amount=amount,
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
