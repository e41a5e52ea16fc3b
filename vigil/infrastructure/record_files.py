"""Records from CSV files, plain or gzip-compressed, streamed one row at a time."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

GZIP_MAGIC = b"\x1f\x8b"


class MalformedRecordFile(ValueError):
    """A record file that cannot be read as CSV; the message names the file and the line."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


def is_gzip(path: Path) -> bool:
    """By suffix, or by the magic bytes when a compressed file was named like a plain one."""
    if path.suffix.lower() == ".gz":
        return True
    with path.open("rb") as raw:
        return raw.read(2) == GZIP_MAGIC


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """One dict per data row: ints, floats, strings, and None for an empty field.

    The file is streamed, so memory stays flat whatever its size. A blank line is skipped; a row
    whose field count differs from the header's raises MalformedRecordFile with its line number.
    """
    with _open_text(path) as text:
        reader = csv.reader(text)
        header = _read_header(path, reader)
        width = len(header)
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != width:
                    reason = f"row has {len(row)} fields, the header has {width}"
                    raise MalformedRecordFile(path, reader.line_num, reason)
                yield dict(zip(header, map(parse_value, row), strict=True))
        except csv.Error as exc:
            raise MalformedRecordFile(path, reader.line_num, str(exc)) from None
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            # A truncated or corrupt gzip stream, or bytes that are not UTF-8.
            raise MalformedRecordFile(path, reader.line_num, f"unreadable: {exc}") from None


def parse_value(text: str) -> Any:
    """The number the text spells, else the text itself; an empty field is None."""
    if not text:
        return None
    if "_" in text:
        # int() and float() accept "1_000"; in a data file that is a code, not a number.
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _open_text(path: Path) -> TextIO:
    if not path.is_file():
        raise MalformedRecordFile(path, None, "no such file")
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _read_header(path: Path, reader: Iterator[list[str]]) -> list[str]:
    try:
        header = next(reader, None)
    except (csv.Error, OSError, EOFError, UnicodeDecodeError) as exc:
        raise MalformedRecordFile(path, 1, f"unreadable header: {exc}") from None
    if not header:
        raise MalformedRecordFile(path, 1, "no header row")
    names = [name.strip() for name in header]
    if any(not name for name in names):
        raise MalformedRecordFile(path, 1, "the header has an empty column name")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise MalformedRecordFile(path, 1, f"duplicate column names: {', '.join(duplicates)}")
    return names
