"""Projections: pure functions from a domain event to read-model row changes.

An event goes in, row changes come out, and the projection runner in infrastructure writes them
with its tracking position in one transaction. Every read-model row is keyed by its aggregate's
id and carries the version of the last event applied to it, so a change that is older than the
row is a no-op and replaying the log never double-counts. A row that sums up many aggregates (an
entity's summary) cannot carry one version, so it is not changed but recomputed from the rows it
sums up, which is as safe to repeat. Each projection has a `name`, the `tables` it owns, and
`changes(event)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from uuid import UUID


@dataclass(frozen=True)
class RowInsert:
    """A new row, complete as of `version`; writing it again or over a newer row changes nothing."""

    table: str
    key: UUID
    version: int
    values: Mapping[str, Any]


@dataclass(frozen=True)
class RowUpdate:
    """Changes to an existing row by the events `since`..`version` of its aggregate."""

    table: str
    key: UUID
    since: int
    version: int
    values: Mapping[str, Any] = field(default_factory=dict)
    increments: Mapping[str, int] = field(default_factory=dict)

    def applies_to(self, row_version: int) -> bool:
        """Only a row that has seen none of these events takes the change."""
        return row_version < self.since

    def apply(self, row: Mapping[str, Any]) -> dict[str, Any]:
        changed = {**row, **self.values}
        for column, step in self.increments.items():
            changed[column] = changed[column] + step
        return changed


@dataclass(frozen=True)
class Recompute:
    """Compute again, from the read model's other tables once the batch's inserts and updates are
    written, the rows of `table` that depend on row `key` of table `of`."""

    table: str
    of: str
    key: UUID


RowChange = RowInsert | RowUpdate | Recompute


class Projection(Protocol):
    """Turns one domain event into read-model row changes; events it does not know give none."""

    @property
    def name(self) -> str: ...

    @property
    def tables(self) -> Sequence[str]: ...

    def changes(self, event: object) -> Sequence[RowChange]: ...


def squash(changes: Iterable[RowChange]) -> list[RowChange]:
    """One change per row for a batch, in the order rows first appear, then each recomputation
    once: the writes can be grouped into a few statements without reordering any row's events."""
    rows: dict[tuple[str, UUID], RowInsert | RowUpdate] = {}
    recomputations: dict[Recompute, None] = {}
    for change in changes:
        if isinstance(change, Recompute):
            recomputations.setdefault(change)
            continue
        row = (change.table, change.key)
        earlier = rows.get(row)
        rows[row] = change if earlier is None else _follow(earlier, change)
    return [*rows.values(), *recomputations]


def _follow(earlier: RowInsert | RowUpdate, later: RowInsert | RowUpdate) -> RowInsert | RowUpdate:
    if isinstance(later, RowInsert):
        # An insert is a row's first event, so one arriving later is a replay of an older state.
        return later if later.version > earlier.version else earlier
    if not later.applies_to(earlier.version):
        return earlier
    if isinstance(earlier, RowInsert):
        return replace(earlier, version=later.version, values=later.apply(earlier.values))
    increments = dict(earlier.increments)
    for column, step in later.increments.items():
        increments[column] = increments.get(column, 0) + step
    return replace(
        earlier,
        version=later.version,
        values={**earlier.values, **later.values},
        increments=increments,
    )
