"""Every score a scorer gives, champion and shadows side by side, and the champion/challenger
comparison made of them.

The score worker sends one `ScoredRecords` per tenant's source per batch to
`vigil.scored.<source>`: the records' ids and, for each model that scored them, its scores and
which of them it would alert on (its own bands and the tenant's rules). Shadows raise nothing;
their verdicts live here. The comparison read model adds up, per line and per (champion, shadow)
pair, how often each alerted and how often they agreed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

CHAMPION = "champion"
SHADOW = "shadow"


@dataclass(frozen=True)
class ModelScores:
    model_line: str
    version: str
    stage: str
    """`champion` or `shadow`."""
    threshold: float
    scores: list[float | None]
    """One per record, None where the model could not score it (a feature missing)."""
    alerted: list[bool]


@dataclass(frozen=True)
class ScoredRecords:
    tenant_id: str
    source: str
    record_ids: list[str]
    models: list[ModelScores]

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "tenant_id": self.tenant_id,
                "source": self.source,
                "record_ids": self.record_ids,
                "models": [vars(m) for m in self.models],
            }
        )

    @classmethod
    def from_json(cls, body: bytes) -> ScoredRecords:
        document: dict[str, Any] = orjson.loads(body)
        return cls(
            tenant_id=str(document["tenant_id"]),
            source=str(document["source"]),
            record_ids=[str(r) for r in document["record_ids"]],
            models=[ModelScores(**m) for m in document["models"]],
        )


class ScorePublisher(Protocol):
    async def publish(self, batches: Sequence[ScoredRecords]) -> None:
        """Returns once the SCORED stream holds every batch."""
        ...


@dataclass(frozen=True)
class ComparisonCount:
    """What one batch adds to the comparison of a shadow with its line's champion."""

    tenant_id: str
    model_line: str
    champion_version: str
    shadow_version: str
    scored: int
    """Records both scored."""
    champion_alerts: int
    shadow_alerts: int
    both_alerts: int
    score_gap: float
    """The sum of |shadow score - champion score| over the records both scored."""


def comparison_counts(batch: ScoredRecords) -> list[ComparisonCount]:
    """One count per shadow whose line's champion scored the same records."""
    champions = {m.model_line: m for m in batch.models if m.stage == CHAMPION}
    counts = []
    for shadow in (m for m in batch.models if m.stage == SHADOW):
        champion = champions.get(shadow.model_line)
        if champion is None:
            continue
        both = [
            (c, s, ca, sa)
            for c, s, ca, sa in zip(
                champion.scores, shadow.scores, champion.alerted, shadow.alerted, strict=True
            )
            if c is not None and s is not None
        ]
        counts.append(
            ComparisonCount(
                tenant_id=batch.tenant_id,
                model_line=shadow.model_line,
                champion_version=champion.version,
                shadow_version=shadow.version,
                scored=len(both),
                champion_alerts=sum(ca for _, _, ca, _ in both),
                shadow_alerts=sum(sa for _, _, _, sa in both),
                both_alerts=sum(ca and sa for _, _, ca, sa in both),
                score_gap=sum(abs(s - c) for c, s, _, _ in both),
            )
        )
    return counts


@dataclass(frozen=True)
class Comparison:
    """A shadow against its line's champion over every record both scored."""

    model_line: str
    champion_version: str
    shadow_version: str
    scored: int
    champion_alerts: int
    shadow_alerts: int
    both_alerts: int
    score_gap: float

    @property
    def agreement(self) -> float:
        """The share of records on which both alerted or both passed."""
        disagreed = self.champion_alerts + self.shadow_alerts - 2 * self.both_alerts
        return 1.0 - disagreed / self.scored if self.scored else 1.0

    @property
    def mean_score_gap(self) -> float:
        return self.score_gap / self.scored if self.scored else 0.0


class ScoredMessage(Protocol):
    @property
    def data(self) -> bytes: ...

    @property
    def position(self) -> int:
        """The message's sequence on the SCORED stream."""
        ...

    async def ack(self) -> None: ...


class ScoredFeed(Protocol):
    async def next_batch(self, most: int, wait_seconds: float) -> Sequence[ScoredMessage]: ...


class ComparisonBook(Protocol):
    async def apply(self, counts: Sequence[ComparisonCount], position: int) -> bool:
        """Adds the counts of the message at `position` on the SCORED stream, once: False when
        that position was applied before (a redelivery)."""
        ...

    async def comparisons(self, tenant_id: str, model_line: str) -> list[Comparison]: ...
