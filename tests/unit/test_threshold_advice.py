"""Threshold advice: a hold-out's curve, and the threshold a cost model prefers on it."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.domain.errors import InvalidCommand
from vigil.domain.threshold_advice import CostModel, CurrentCost, advise
from vigil.domain.threshold_curve import GRID, ThresholdCurve, hold_out_curve

Row = tuple[float, int, float]  # score, label, amount

# Hand-counted at review cost 10, each fraud losing its whole amount:
#   threshold  0.9   0.8   0.7   0.6   0.5   0.4
#   alerts       1     2     3     4     5     6
#   missed     120   120    20    20    20     0
#   cost       130   140    50    60    70    60    (nothing: 620, everything: 60)
SMALL: list[Row] = [
    (0.9, 1, 500.0),
    (0.8, 0, 75.0),
    (0.7, 1, 100.0),
    (0.6, 0, 30.0),
    (0.5, 0, 12.0),
    (0.4, 1, 20.0),
]


def curve_of(
    rows: list[Row],
    *,
    amounts: bool = True,
    days: float | None = None,
    keep: tuple[float, ...] = (),
    grid: int = GRID,
) -> ThresholdCurve:
    scores = [score for score, _, _ in rows]
    labels = [fraud for _, fraud, _ in rows]
    at_stake = [amount for _, _, amount in rows] if amounts else None
    return hold_out_curve(scores, labels, at_stake, days=days, keep=keep, grid=grid)


def cost_over_the_raw_hold_out(rows: list[Row], costs: CostModel, threshold: float) -> float:
    alerts = sum(1 for score, _, _ in rows if score >= threshold)
    missed = [amount for score, fraud, amount in rows if fraud and score < threshold]
    return (
        costs.review_cost * alerts + costs.loss_rate * sum(missed) + costs.flat_loss * len(missed)
    )


def test_a_small_hold_out_advises_the_threshold_a_hand_count_finds() -> None:
    advice = advise(curve_of(SMALL, days=2.0), CostModel(review_cost=10.0))
    assert (advice.unit, advice.threshold, advice.alerts, advice.cost) == ("day", 0.7, 1.5, 25.0)
    assert [p.cost for p in advice.points] == [65.0, 70.0, 25.0, 30.0, 35.0, 30.0]
    assert (advice.alert_nothing, advice.alert_everything, advice.within) == (310.0, 30.0, 0.0)


def test_each_point_counts_what_alerting_at_or_above_its_threshold_does() -> None:
    point = curve_of(SMALL).points[2]
    assert (point.threshold, point.alerts, point.true_positives, point.false_positives) == (
        0.7,
        3,
        2,
        1,
    )
    assert (point.frauds_missed, point.amount_caught, point.amount_missed) == (1, 600.0, 20.0)
    assert (point.precision, point.recall, point.alert_rate) == (2 / 3, 2 / 3, 0.5)


def test_without_days_the_rates_are_per_thousand_records() -> None:
    advice = advise(curve_of(SMALL), CostModel(review_cost=10.0))
    assert advice.unit == "1,000 records"
    assert advice.cost == pytest.approx(50 * 1000 / 6)
    assert advice.alerts == pytest.approx(3 * 1000 / 6)


def test_records_that_tie_on_a_score_alert_together() -> None:
    curve = curve_of([(0.9, 0, 1.0), (0.5, 0, 1.0), (0.5, 1, 8.0), (0.1, 1, 2.0)])
    assert [(p.threshold, p.alerts, p.true_positives) for p in curve.points] == [
        (0.9, 1, 0),
        (0.5, 3, 1),
        (0.1, 4, 2),
    ]


def test_a_tie_in_cost_goes_to_the_threshold_with_fewer_alerts() -> None:
    # 0.9 alerts 1 and misses a fraud (10 + 20); 0.7 alerts 3 and misses none (30).
    rows: list[Row] = [(0.9, 1, 0.0), (0.8, 0, 0.0), (0.7, 1, 0.0), (0.1, 0, 0.0)]
    advice = advise(curve_of(rows, amounts=False), CostModel(review_cost=10.0, flat_loss=20.0))
    assert advice.threshold == 0.9
    assert [p.cost for p in advice.points][:3] == [
        advice.cost,
        advice.cost * 4 / 3,
        advice.cost,
    ]


def test_an_all_legit_hold_out_advises_alerting_as_little_as_it_can() -> None:
    rows: list[Row] = [(0.3, 0, 10.0), (0.8, 0, 10.0), (0.8, 0, 5.0), (0.6, 0, 1.0)]
    curve = curve_of(rows, days=1.0)
    advice = advise(curve, CostModel(review_cost=3.0))
    assert (advice.threshold, advice.cost, advice.alert_nothing) == (0.8, 6.0, 0.0)
    assert {p.recall for p in curve.points} == {0.0}


def test_an_all_fraud_hold_out_worth_more_than_its_reviews_advises_alerting_on_everything() -> None:
    rows: list[Row] = [(0.2, 1, 40.0), (0.9, 1, 15.0), (0.5, 1, 60.0)]
    advice = advise(curve_of(rows, days=1.0), CostModel(review_cost=12.0, loss_rate=0.5))
    assert (advice.threshold, advice.cost) == (0.2, 36.0)
    assert advice.cost == advice.alert_everything


def test_a_hold_out_without_amounts_costs_a_flat_loss_per_missed_fraud() -> None:
    curve = curve_of(SMALL, amounts=False, days=1.0)
    assert curve.fraud_amount is None
    assert curve.points[0].amount_missed is None
    advice = advise(curve, CostModel(review_cost=10.0, flat_loss=25.0))
    assert (advice.threshold, advice.cost, advice.alert_nothing) == (0.7, 55.0, 75.0)


def test_with_both_kinds_of_loss_the_advice_may_miss_the_best_score_but_by_less_than_within() -> (
    None
):
    # grid=2 leaves 0.8 (cost 220) out of the curve: no hull of one kind of loss holds it.
    rows: list[Row] = [
        (0.9, 0, 100.0),
        (0.8, 1, 30.0),
        (0.5, 1, 0.0),
        (0.4, 0, 100.0),
        (0.2, 1, 100.0),
        (0.1, 0, 30.0),
    ]
    costs = CostModel(review_cost=45.0, loss_rate=0.5, flat_loss=40.0)
    advice = advise(curve_of(rows, days=1.0, grid=2), costs)
    assert (advice.threshold, advice.cost) == (0.5, 225.0)
    assert advice.cost - advice.within <= cost_over_the_raw_hold_out(rows, costs, 0.8) == 220.0


def test_the_threshold_in_service_is_costed_exactly_when_the_curve_keeps_it() -> None:
    curve = curve_of(SMALL, days=1.0, keep=(0.65,))
    costs = CostModel(review_cost=10.0)
    assert advise(curve, costs, current=0.65).current == CurrentCost(0.65, 50.0, 50.0)
    assert advise(curve, costs, current=0.95).current == CurrentCost(0.95, 620.0, 620.0)
    assert advise(curve, costs, current=0.1).current == CurrentCost(0.1, 60.0, 60.0)


def test_a_threshold_between_the_curves_points_is_costed_between_its_neighbours() -> None:
    curve = curve_of(SMALL, days=1.0, grid=2)
    thresholds = [p.threshold for p in curve.points]
    assert 0.8 not in thresholds
    current = advise(curve, CostModel(review_cost=10.0), current=0.8).current
    assert current is not None
    assert current.low <= 140.0 <= current.high


def test_the_curve_is_the_same_after_a_trip_through_json() -> None:
    for curve in (curve_of(SMALL, days=7.5), curve_of(SMALL, amounts=False)):
        assert ThresholdCurve.from_json(json.loads(json.dumps(curve.to_json()))) == curve


def test_a_hundred_thousand_row_hold_out_keeps_a_few_hundred_points() -> None:
    draw = random.Random(7)
    labels = [int(draw.random() < 0.01) for _ in range(100_000)]
    scores = [round(draw.betavariate(5 if f else 2, 2 if f else 5), 6) for f in labels]
    amounts = [round(draw.lognormvariate(4, 1.2), 2) for _ in labels]
    curve = hold_out_curve(scores, labels, amounts, days=30.0)
    assert len(curve.points) < 400
    assert len(json.dumps(curve.to_json())) < 25_000


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"review_cost": 0.0}, "review_cost"),
        ({"review_cost": float("nan")}, "review_cost"),
        ({"review_cost": 5.0, "loss_rate": 1.5}, "loss_rate"),
        ({"review_cost": 5.0, "flat_loss": -1.0}, "flat_loss"),
        ({"review_cost": 5.0, "loss_rate": 0.0}, "loss_rate"),
    ],
)
def test_a_cost_model_out_of_range_names_its_field(fields: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidCommand) as error:
        CostModel(**fields)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("scores", "labels", "amounts", "field"),
    [
        ([], [], None, "scores"),
        ([0.1, 0.2], [1], None, "labels"),
        ([0.1, 0.2], [1, 2], None, "labels"),
        ([0.1, float("nan")], [1, 0], None, "scores"),
        ([0.1, 0.2], [1, 0], [5.0], "amounts"),
        ([0.1, 0.2], [1, 0], [5.0, -1.0], "amounts"),
    ],
)
def test_a_hold_out_that_does_not_add_up_names_its_field(
    scores: list[float], labels: list[int], amounts: list[float] | None, field: str
) -> None:
    with pytest.raises(InvalidCommand) as error:
        hold_out_curve(scores, labels, amounts)
    assert error.value.field == field


def test_a_hold_out_over_no_time_names_the_days() -> None:
    with pytest.raises(InvalidCommand) as error:
        hold_out_curve([0.5], [1], days=0.0)
    assert error.value.field == "days"


def test_without_amounts_only_a_flat_loss_can_price_a_missed_fraud() -> None:
    with pytest.raises(InvalidCommand) as error:
        advise(curve_of(SMALL, amounts=False), CostModel(review_cost=5.0))
    assert error.value.field == "flat_loss"


hold_outs = st.lists(
    st.tuples(st.integers(0, 24).map(lambda k: k / 24), st.integers(0, 1), st.integers(0, 900)),
    min_size=1,
    max_size=80,
).map(lambda rows: [(score, fraud, float(amount)) for score, fraud, amount in rows])
review_costs = st.floats(0.5, 300.0)
losses = st.floats(0.01, 1.0)
amount_only = st.builds(CostModel, review_costs, losses, st.just(0.0))
flat_only = st.builds(CostModel, review_costs, st.just(0.0), st.floats(0.5, 900.0))
both = st.builds(CostModel, review_costs, losses, st.floats(0.5, 900.0))


@settings(max_examples=300, deadline=None)
@given(hold_outs, st.one_of(amount_only, flat_only, both), st.integers(2, 6))
def test_no_threshold_at_any_score_is_cheaper_than_the_advice_by_more_than_its_bound(
    rows: list[Row], costs: CostModel, grid: int
) -> None:
    # A coarse grid leaves most scores out of the curve: only its hulls can make this hold.
    advice = advise(curve_of(rows, days=1.0, grid=grid), costs)
    every_score = [cost_over_the_raw_hold_out(rows, costs, score) for score, _, _ in rows]
    rounding = 1e-9 * (advice.alert_nothing + advice.alert_everything)
    assert advice.cost == pytest.approx(cost_over_the_raw_hold_out(rows, costs, advice.threshold))
    assert min(every_score) - rounding <= advice.cost <= min(every_score) + advice.within + rounding
    if costs.loss_rate == 0 or costs.flat_loss == 0:
        assert advice.within == 0.0


@settings(max_examples=200, deadline=None)
@given(hold_outs, st.integers(2, 6))
def test_every_point_of_the_curve_counts_exactly_what_its_threshold_alerts(
    rows: list[Row], grid: int
) -> None:
    curve = curve_of(rows, grid=grid)
    for point in curve.points:
        alerted = [(fraud, amount) for score, fraud, amount in rows if score >= point.threshold]
        assert point.alerts == len(alerted)
        assert point.true_positives == sum(fraud for fraud, _ in alerted)
        assert point.amount_caught == pytest.approx(sum(f * amount for f, amount in alerted))
    assert [p.threshold for p in curve.points] == sorted({p.threshold for p in curve.points})[::-1]
