"""The reader for a record file under its source's contract: Parquet by magic bytes or suffix,
else CSV (plain or gzip), with columns typed by the schema."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from vigil.application.ingestion import BrokenRow
from vigil.domain.source_contract import SourceContract, SourceType
from vigil.infrastructure.parquet_records import ParquetRecords, is_parquet
from vigil.infrastructure.record_files import CsvRecords, MalformedRecordFile


def read_record_file(
    path: Path, contract: SourceContract
) -> tuple[Iterable[Mapping[str, Any] | BrokenRow], Callable[[], float]]:
    """The file's rows, and how much of the file is read so far (0 to 1)."""
    if not path.is_file():
        raise MalformedRecordFile(path, None, "no such file")
    if contract.source_type is SourceType.PARQUET or is_parquet(path):
        parquet = ParquetRecords(path)
        return parquet, parquet.fraction_read
    types = {name: _json_type(rule) for name, rule in contract.properties.items()}
    delimiter = str(contract.config.get("delimiter", ","))
    rows = CsvRecords(path, {name: kind for name, kind in types.items() if kind}, delimiter)
    return rows, rows.fraction_read


def _json_type(rule: Mapping[str, Any]) -> str:
    kind = rule.get("type")
    if isinstance(kind, list):
        # ["integer", "null"]: the one type that is not null.
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    return kind if isinstance(kind, str) else ""
