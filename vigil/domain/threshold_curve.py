"""The hold-out's threshold curve: what alerting at each of a bounded set of thresholds did.

A threshold alerts every record scoring at or above it, the rule `SeverityBands.grade` serves.
Of the hold-out's distinct scores the curve keeps the highest and the lowest, the first to reach
each 1/`grid` of all records alerted and of all frauds caught (so it draws well even where the
frauds sit in the top fraction of a percent), and the vertices of two upper convex hulls: frauds
caught against alerts, and amount caught against alerts. The hulls are what make advice exact:
expected cost is linear in alerts and in what is missed, so for any review cost and any one kind
of loss (per fraud or a share of its amount) the cheapest of all distinct scores is a vertex of
that hull, including the fewest-alerts end of a tie (see `threshold_advice`). A hull vertex is
a score that catches a fraud, or an end; on 100,000-row hold-outs the hulls have 25 to 110, so
the curve has 200 to 400 points (11 to 20 kB of JSON), where every distinct score would be 100,000.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vigil.domain.errors import InvalidCommand

GRID = 100
CURVE_FORMAT = 1


@dataclass(frozen=True)
class CurvePoint:
    """What alerting at `threshold` did on the hold-out; amounts are None without amounts."""

    threshold: float
    alerts: int
    true_positives: int
    false_positives: int
    frauds_missed: int
    amount_caught: float | None
    amount_missed: float | None
    precision: float
    recall: float
    """0 on a hold-out without fraud, as there is nothing to recall."""
    alert_rate: float


@dataclass(frozen=True)
class ThresholdCurve:
    """The hold-out at its curve's thresholds, highest first; JSON through `to_json`."""

    records: int
    frauds: int
    fraud_amount: float | None
    days: float | None
    """The time the hold-out spans, given only when it holds every record of that time."""
    points: tuple[CurvePoint, ...]

    @property
    def unit(self) -> str:
        return "day" if self.days else "1,000 records"

    def per_unit(self, quantity: float) -> float:
        return quantity / self.days if self.days else quantity * 1000 / self.records

    def to_json(self) -> dict[str, Any]:
        # Columns of what was counted; the rest follows from them and the totals.
        points = self.points
        return {
            "format": CURVE_FORMAT,
            "records": self.records,
            "frauds": self.frauds,
            "fraud_amount": self.fraud_amount,
            "days": self.days,
            "thresholds": [p.threshold for p in points],
            "alerts": [p.alerts for p in points],
            "caught": [p.true_positives for p in points],
            "amount_caught": None
            if self.fraud_amount is None
            else [p.amount_caught for p in points],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ThresholdCurve:
        if document.get("format") != CURVE_FORMAT:
            raise InvalidCommand("curve", f"format {document.get('format')!r} is not known")
        total = document["fraud_amount"]
        fraud_amount = None if total is None else float(total)
        amounts = document["amount_caught"] or [None] * len(document["thresholds"])
        records, frauds = int(document["records"]), int(document["frauds"])
        counted = zip(
            document["thresholds"], document["alerts"], document["caught"], amounts, strict=True
        )
        points = tuple(
            _point(records, frauds, fraud_amount, float(t), int(a), int(c), amount)
            for t, a, c, amount in counted
        )
        days = document["days"]
        return cls(records, frauds, fraud_amount, None if days is None else float(days), points)


def hold_out_curve(
    scores: Sequence[float],
    labels: Sequence[int],
    amounts: Sequence[float] | None = None,
    *,
    days: float | None = None,
    keep: Sequence[float] = (),
    grid: int = GRID,
) -> ThresholdCurve:
    """The curve of a scored, labelled hold-out. `keep` adds thresholds to know exactly, such as
    the one in service; one above every score alerts nothing and needs no point."""
    if days is not None and not (math.isfinite(days) and days > 0):
        raise InvalidCommand("days", "must be a positive number of days, or absent")
    if not all(math.isfinite(t) for t in keep):
        raise InvalidCommand("keep", "thresholds must be finite numbers")
    thresholds, alerts, caught, amount_caught = _cumulative(_rows(scores, labels, amounts))
    records, frauds = alerts[-1], caught[-1]
    chosen = {0, len(thresholds) - 1}
    chosen.update(_first_reaching(alerts, records, grid))
    chosen.update(_first_reaching(caught, frauds, grid))
    chosen.update(_upper_hull(alerts, caught))
    if amounts is not None:
        chosen.update(_upper_hull(alerts, amount_caught))
    marks = {(thresholds[i], i) for i in chosen}
    # A kept threshold alerts what the lowest distinct score at or above it alerts.
    falling = [-t for t in thresholds]
    marks.update((t, bisect_right(falling, -t) - 1) for t in keep if t <= thresholds[0])
    total = None if amounts is None else amount_caught[-1]
    amount_at = [None if total is None else amount for amount in amount_caught]
    points = tuple(
        _point(records, frauds, total, t, alerts[i], caught[i], amount_at[i])
        for t, i in sorted(marks, reverse=True)
    )
    return ThresholdCurve(records, frauds, total, days, points)


def _rows(
    scores: Sequence[float], labels: Sequence[int], amounts: Sequence[float] | None
) -> list[tuple[float, int, float]]:
    """(score, label, amount at stake if fraud) per record, checked."""
    if len(scores) == 0:
        raise InvalidCommand("scores", "the hold-out is empty")
    if len(labels) != len(scores):
        raise InvalidCommand("labels", f"needs one label per score, {len(scores)}")
    if amounts is not None and len(amounts) != len(scores):
        raise InvalidCommand("amounts", f"needs one amount per score, {len(scores)}")
    if not all(label in (0, 1) for label in labels):
        raise InvalidCommand("labels", "must all be 0 (legit) or 1 (fraud)")
    rows = [(float(s), int(f), 0.0) for s, f in zip(scores, labels, strict=True)]
    if not all(math.isfinite(score) for score, _, _ in rows):
        raise InvalidCommand("scores", "must all be finite numbers")
    if amounts is None:
        return rows
    at_stake = [float(a) for a in amounts]
    if not all(math.isfinite(a) and a >= 0 for a in at_stake):
        raise InvalidCommand("amounts", "must all be finite and at least 0")
    return [(s, f, a * f) for (s, f, _), a in zip(rows, at_stake, strict=True)]


def _cumulative(
    rows: list[tuple[float, int, float]],
) -> tuple[list[float], list[int], list[int], list[float]]:
    """Per distinct score, highest first: alerts, frauds and amount caught at that threshold."""
    # Sorting whole rows, not only scores, makes the sums independent of the input's order.
    rows.sort(reverse=True)
    thresholds: list[float] = []
    alerts: list[int] = []
    caught: list[int] = []
    amount_caught: list[float] = []
    frauds, amount = 0, 0.0
    for index, (score, fraud, at_stake) in enumerate(rows):
        frauds += fraud
        amount += at_stake
        if index + 1 == len(rows) or rows[index + 1][0] != score:
            thresholds.append(score)
            alerts.append(index + 1)
            caught.append(frauds)
            amount_caught.append(amount)
    return thresholds, alerts, caught, amount_caught


def _first_reaching(running: Sequence[int], total: int, grid: int) -> set[int]:
    """The first index where a running count reaches each 1/grid of its total."""
    if total == 0:
        return set()
    return {bisect_left(running, math.ceil(k * total / grid)) for k in range(1, grid)}


def _upper_hull(xs: Sequence[int], ys: Sequence[float]) -> list[int]:
    """Indices of the vertices of the upper convex hull of (x, y), x rising (Andrew's chain).
    Points on an edge are dropped: neither end of the edge is ever worse than they are."""
    hull: list[int] = []
    for k in range(len(xs)):
        while len(hull) >= 2:
            i, j = hull[-2], hull[-1]
            if (xs[j] - xs[i]) * (ys[k] - ys[i]) < (ys[j] - ys[i]) * (xs[k] - xs[i]):
                break  # i, j, k turn right: j stays
            hull.pop()
        hull.append(k)
    return hull


def _point(
    records: int,
    frauds: int,
    fraud_amount: float | None,
    threshold: float,
    alerts: int,
    caught: int,
    amount_caught: float | None,
) -> CurvePoint:
    amount_missed = None
    if fraud_amount is not None and amount_caught is not None:
        amount_missed = max(fraud_amount - amount_caught, 0.0)  # no negative rounding residue
    return CurvePoint(
        threshold=threshold,
        alerts=alerts,
        true_positives=caught,
        false_positives=alerts - caught,
        frauds_missed=frauds - caught,
        amount_caught=amount_caught,
        amount_missed=amount_missed,
        precision=caught / alerts,
        recall=caught / frauds if frauds else 0.0,
        alert_rate=alerts / records,
    )
