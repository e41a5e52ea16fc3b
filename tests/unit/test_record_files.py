"""Reading records from CSV files, plain and gzip-compressed, one row at a time."""

from __future__ import annotations

import gzip
import tracemalloc
from itertools import islice
from pathlib import Path

import pytest

from tests.conftest import FDH_TRANSACTIONS
from vigil.infrastructure.record_files import MalformedRecordFile, is_gzip, iter_records

SMALL = "id,amount,merchant,count,note\nt1,12.5,acme,3,\nt2,-0.25,,7,late\n"


def _write(path: Path, text: str, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def test_values_become_ints_floats_strings_or_none(tmp_path: Path) -> None:
    records = list(iter_records(_write(tmp_path / "small.csv", SMALL)))

    assert records == [
        {"id": "t1", "amount": 12.5, "merchant": "acme", "count": 3, "note": None},
        {"id": "t2", "amount": -0.25, "merchant": None, "count": 7, "note": "late"},
    ]
    assert type(records[0]["count"]) is int


def test_a_gzip_file_reads_like_the_plain_one(tmp_path: Path) -> None:
    plain = _write(tmp_path / "small.csv", SMALL)
    compressed = _write(tmp_path / "small.csv.gz", SMALL, compress=True)

    assert list(iter_records(compressed)) == list(iter_records(plain))


def test_a_gzip_file_without_the_suffix_is_recognised_by_its_magic_bytes(tmp_path: Path) -> None:
    disguised = _write(tmp_path / "small.csv", SMALL, compress=True)

    assert is_gzip(disguised)
    assert next(iter_records(disguised))["amount"] == 12.5


def test_numbers_with_underscores_stay_text(tmp_path: Path) -> None:
    (record,) = iter_records(_write(tmp_path / "codes.csv", "code\n1_000\n"))

    assert record == {"code": "1_000"}


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    records = list(iter_records(_write(tmp_path / "gaps.csv", "a,b\n1,2\n\n3,4\n")))

    assert records == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]


def test_a_row_with_more_fields_than_the_header_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", "a,b\n1,2\n3,4,5\n")

    with pytest.raises(
        MalformedRecordFile, match=r"bad\.csv:3: row has 3 fields, the header has 2"
    ):
        list(iter_records(path))


def test_a_file_without_a_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MalformedRecordFile, match="no header row"):
        list(iter_records(_write(tmp_path / "empty.csv", "")))


def test_duplicate_column_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MalformedRecordFile, match="duplicate column names: a"):
        list(iter_records(_write(tmp_path / "dup.csv", "a,b,a\n1,2,3\n")))


def test_a_truncated_gzip_file_is_reported_with_its_name(tmp_path: Path) -> None:
    whole = gzip.compress(("a,b\n" + "1,2\n" * 50_000).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(MalformedRecordFile, match=r"cut\.csv\.gz:\d+: unreadable"):
        list(iter_records(path))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MalformedRecordFile, match=r"nowhere\.csv: no such file"):
        list(iter_records(tmp_path / "nowhere.csv"))


def test_the_fdh_transactions_stream_without_loading_the_file() -> None:
    tracemalloc.start()
    try:
        first = list(islice(iter_records(FDH_TRANSACTIONS), 50_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert first[0]["TX_AMOUNT"] == pytest.approx(57.16)
    assert isinstance(first[0]["TRANSACTION_ID"], int)
    assert isinstance(first[0]["TX_DATETIME"], str)
    # The 50,000 dicts kept here dominate the peak; the file (29 MB compressed) is never whole.
    assert peak < 60_000_000
