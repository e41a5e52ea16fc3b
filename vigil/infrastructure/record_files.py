"""Records from CSV files, plain or gzip-compressed, streamed one row at a time.

`CsvRecords` is what ingestion reads: a row that breaks the file's shape becomes a `BrokenRow`
for the dead letters instead of ending the file, values are typed by the source's schema where
it declares a type (a zip code "01234" stays text), and it tells how much of the file is read.
`iter_records` is the strict reader training uses: a broken row ends it with the line number.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TextIO

from vigil.application.ingestion import BrokenRow

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


def _open_text(path: Path, raw: IO[bytes] | None = None) -> TextIO:
    if not path.is_file():
        raise MalformedRecordFile(path, None, "no such file")
    raw = raw or path.open("rb")
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(raw, "rb"), encoding="utf-8-sig", newline="")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


Row = dict[str, Any] | BrokenRow

_TYPED: Mapping[str, Callable[[str], Any]] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": lambda text: {"true": True, "false": False}[text.lower()],
}


class CsvRecords:
    """A CSV file's rows, streamed; `types` maps a column to its schema type."""

    def __init__(
        self, path: Path, types: Mapping[str, str] | None = None, delimiter: str = ","
    ) -> None:
        self.path = path
        self.types = types or {}
        self.delimiter = delimiter
        self._size = path.stat().st_size if path.is_file() else 0
        self._raw: IO[bytes] | None = None

    def fraction_read(self) -> float:
        """How much of the file (as stored, so compressed bytes for gzip) is read."""
        if self._raw is None or self._raw.closed or not self._size:
            return 0.0 if self._raw is None else 1.0
        return min(1.0, self._raw.tell() / self._size)

    def __iter__(self) -> Iterator[Row]:
        if not self.path.is_file():
            raise MalformedRecordFile(self.path, None, "no such file")
        self._raw = self.path.open("rb")
        with _open_text(self.path, self._raw) as text:
            reader = csv.reader(text, delimiter=self.delimiter)
            header = _read_header(self.path, reader)
            parsers = [self._parser(name) for name in header]
            yield from self._rows(reader, header, parsers)

    def _rows(
        self, reader: Any, header: list[str], parsers: list[Callable[[str], Any]]
    ) -> Iterator[Row]:
        width = len(header)
        while True:
            try:
                row = next(reader, None)
            except csv.Error as exc:
                yield BrokenRow(reader.line_num, "", str(exc))
                continue
            except (OSError, EOFError, UnicodeDecodeError) as exc:
                # The rest of a truncated or corrupt file cannot be read: say where it ended.
                yield BrokenRow(reader.line_num, "", f"the file is unreadable from here: {exc}")
                return
            if row is None:
                return
            if not row:
                continue
            if len(row) != width:
                reason = f"row has {len(row)} fields, the header has {width}"
                yield BrokenRow(reader.line_num, self.delimiter.join(row), reason)
                continue
            yield {
                name: parse(text) for name, parse, text in zip(header, parsers, row, strict=True)
            }

    def _parser(self, column: str) -> Callable[[str], Any]:
        typed = _TYPED.get(self.types.get(column, ""))
        if typed is None:
            return parse_value

        def parse(text: str) -> Any:
            if not text:
                return None
            try:
                return typed(text)
            except (ValueError, KeyError):
                # Left as text: the schema check names the field and the type it wanted.
                return text

        return parse


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
