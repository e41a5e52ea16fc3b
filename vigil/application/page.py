"""A page of a read model's list, newest first, with a cursor per row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    """Each row's opaque cursor resumes the list right after it; `total` counts the filter."""

    rows: list[Row]
    cursors: list[str]
    total: int
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None
