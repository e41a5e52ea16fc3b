"""Threshold advice: the threshold a cost model prefers on a hold-out's curve, and the cost curve.

Expected cost at a threshold = review_cost * alerts + what the frauds it misses lose. It is linear
in (alerts, frauds caught) when a missed fraud costs a flat loss, and in (alerts, amount caught)
when it costs a share of its amount, so over all distinct scores its minimum is a vertex of the
upper convex hull of the matching pair, which the curve keeps; the cheapest vertex with the
fewest alerts is the one at the left end of a tying edge. Such advice is exact up to float
rounding. With both kinds of loss at once it need not be, and `Advice.within` bounds the gap.

Costs and alerts are given per day when the curve knows the days its hold-out spans, else per
1,000 records: a rate a fraud team can staff and budget for, not a total over an arbitrary cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

from vigil.domain.errors import InvalidCommand
from vigil.domain.threshold_curve import CurvePoint, ThresholdCurve


@dataclass(frozen=True)
class CostModel:
    """What an alert and a missed fraud cost, in the currency of the hold-out's amounts.

    Every alert is reviewed, fraud or not. A missed fraud loses `loss_rate` of its amount (what
    recoveries and chargebacks do not win back) plus `flat_loss` (fees, handling); on a hold-out
    without amounts only `flat_loss` counts."""

    review_cost: float
    loss_rate: float = 1.0
    flat_loss: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.review_cost) and self.review_cost > 0):
            raise InvalidCommand("review_cost", "must be above 0: every alert takes a review")
        if not 0 <= self.loss_rate <= 1:
            raise InvalidCommand("loss_rate", "is the share of the amount lost, from 0 to 1")
        if not (math.isfinite(self.flat_loss) and self.flat_loss >= 0):
            raise InvalidCommand("flat_loss", "must be a finite amount of at least 0")
        if self.loss_rate == 0 and self.flat_loss == 0:
            raise InvalidCommand("loss_rate", "is 0 and so is flat_loss: a missed fraud costs")

    def missed(self, point: CurvePoint) -> float:
        """What the frauds missed at this point lose."""
        flat = self.flat_loss * point.frauds_missed
        if point.amount_missed is None:
            return flat
        return self.loss_rate * point.amount_missed + flat

    def cost(self, point: CurvePoint) -> float:
        return self.review_cost * point.alerts + self.missed(point)


@dataclass(frozen=True)
class CostPoint:
    threshold: float
    alerts: float
    cost: float


@dataclass(frozen=True)
class CurrentCost:
    """The cost of the threshold in service: exact (low == high) when the curve has a point at
    it or it alerts nothing or everything, else between what its neighbouring points bound."""

    threshold: float
    low: float
    high: float


@dataclass(frozen=True)
class Advice:
    """The cheapest of the curve's thresholds, with the cost at each; all per `unit`."""

    unit: str
    threshold: float
    alerts: float
    cost: float
    within: float
    """No threshold at any of the hold-out's scores costs less than `cost - within`."""
    points: tuple[CostPoint, ...]
    alert_nothing: float
    alert_everything: float
    current: CurrentCost | None


def advise(curve: ThresholdCurve, costs: CostModel, current: float | None = None) -> Advice:
    """The threshold of least expected cost on the hold-out, the one with fewer alerts on a tie."""
    if curve.fraud_amount is None and costs.flat_loss == 0:
        raise InvalidCommand("flat_loss", "must be above 0: the hold-out has no amounts")
    points, scale = curve.points, curve.per_unit
    raw = [costs.cost(p) for p in points]
    best = min(range(len(points)), key=lambda k: (raw[k], points[k].alerts))
    return Advice(
        unit=curve.unit,
        threshold=points[best].threshold,
        alerts=scale(points[best].alerts),
        cost=scale(raw[best]),
        within=scale(_within(points, costs, raw[best], curve.fraud_amount is None)),
        points=tuple(
            CostPoint(p.threshold, scale(p.alerts), scale(c))
            for p, c in zip(points, raw, strict=True)
        ),
        alert_nothing=scale(_nothing(curve, costs)),
        alert_everything=scale(costs.review_cost * curve.records),
        current=None if current is None else _current(curve, costs, current),
    )


def _nothing(curve: ThresholdCurve, costs: CostModel) -> float:
    amount = 0.0 if curve.fraud_amount is None else costs.loss_rate * curve.fraud_amount
    return amount + costs.flat_loss * curve.frauds


def _within(
    points: tuple[CurvePoint, ...], costs: CostModel, least: float, flat_only: bool
) -> float:
    if flat_only or costs.loss_rate == 0 or costs.flat_loss == 0:
        return 0.0  # one kind of loss: the curve holds its hull, hence the exact minimum
    # A score between two neighbouring points alerts k more records than the upper one, so it
    # catches at most k of the frauds the lower one adds and misses the rest, besides what the
    # lower one misses; the least of that over k is at k = 0 or k = the frauds added.
    review, flat = costs.review_cost, costs.flat_loss
    floor = min(
        (
            review * upper.alerts
            + costs.missed(lower)
            + min(review, flat) * (lower.true_positives - upper.true_positives)
            for upper, lower in pairwise(points)
        ),
        default=least,
    )
    return max(least - floor, 0.0)


def _current(curve: ThresholdCurve, costs: CostModel, threshold: float) -> CurrentCost:
    points, scale = curve.points, curve.per_unit
    if threshold > points[0].threshold:
        nothing = scale(_nothing(curve, costs))
        return CurrentCost(threshold, nothing, nothing)
    # Highest first: the first point at or below the threshold alerts at least what it does.
    below = next((k for k, p in enumerate(points) if p.threshold <= threshold), None)
    if below is None or points[below].threshold == threshold:
        exact = scale(costs.cost(points[-1 if below is None else below]))
        return CurrentCost(threshold, exact, exact)
    upper, lower = points[below - 1], points[below]
    low = costs.review_cost * upper.alerts + costs.missed(lower)
    high = costs.review_cost * lower.alerts + costs.missed(upper)
    return CurrentCost(threshold, scale(low), scale(high))
