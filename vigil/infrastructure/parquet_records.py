"""Records from Parquet files, read one batch of rows at a time, so memory is bounded by the
batch and not the file. Times and dates become ISO 8601 text and decimals floats: what a JSON
record would carry, so one schema serves every source type."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vigil.infrastructure.record_files import MalformedRecordFile

PARQUET_MAGIC = b"PAR1"
BATCH_ROWS = 8192


def is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with path.open("rb") as raw:
        return raw.read(4) == PARQUET_MAGIC


class ParquetRecords:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._rows_read = 0
        self._rows = 0

    def fraction_read(self) -> float:
        return self._rows_read / self._rows if self._rows else 0.0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            parquet = pq.ParquetFile(self.path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise MalformedRecordFile(self.path, None, f"not a Parquet file: {exc}") from None
        self._rows = parquet.metadata.num_rows
        try:
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
                for row in batch.to_pylist():
                    self._rows_read += 1
                    yield {name: _plain(value) for name, value in row.items()}
        except (OSError, pa.ArrowInvalid) as exc:
            reason = f"unreadable after row {self._rows_read}: {exc}"
            raise MalformedRecordFile(self.path, None, reason) from None


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value
