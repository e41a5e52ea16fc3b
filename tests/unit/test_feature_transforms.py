"""Imputation, scaling and encoding: learnt from training rows, applied to new ones, stored as
JSON with the model, and a record whose feature is still missing is rejected by name."""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

import pytest

from vigil.application.detection import Rejection
from vigil.application.features import FittedPipeline, WindowInput, feature_row, fit
from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_pipeline import FeaturePipeline


def pipeline(*steps: dict[str, Any], features: list[str] | None = None) -> FeaturePipeline:
    document: dict[str, Any] = {"name": "p", "source": "cards", "transformations": list(steps)}
    if features is not None:
        document["features"] = features
    return FeaturePipeline.from_document(document)


def impute(strategy: str, *fields: str, **value: Any) -> dict[str, Any]:
    return {"type": "imputation", "strategy": strategy, "fields": list(fields), **value}


def scale(method: str, *fields: str) -> dict[str, Any]:
    return {"type": "scaling", "method": method, "fields": list(fields)}


def encode(method: str, field: str, max_categories: int = 20) -> dict[str, Any]:
    return {"type": "encoding", "method": method, "field": field, "max_categories": max_categories}


AMOUNTS = [{"AMOUNT": a} for a in (10.0, 20.0, 30.0, 100.0)]


def vector(fitted: FittedPipeline, row: dict[str, Any]) -> list[float]:
    result = fitted.transform(row)
    assert not isinstance(result, Rejection), result
    return result


def test_median_imputation_fills_a_missing_value_with_the_training_median() -> None:
    fitted = fit(pipeline(impute("median", "AMOUNT")), [*AMOUNTS, {"AMOUNT": None}])
    assert vector(fitted, {"AMOUNT": None}) == [25.0]
    assert vector(fitted, {}) == [25.0]
    assert vector(fitted, {"AMOUNT": math.nan}) == [25.0]
    assert vector(fitted, {"AMOUNT": 7.0}) == [7.0]


def test_mean_imputation_fills_with_the_training_mean() -> None:
    fitted = fit(pipeline(impute("mean", "AMOUNT")), AMOUNTS)
    assert vector(fitted, {"AMOUNT": None}) == [40.0]


def test_constant_imputation_fills_with_its_value_and_learns_nothing() -> None:
    fitted = fit(pipeline(impute("constant", "AMOUNT", value=0)), [{"AMOUNT": None}])
    assert vector(fitted, {}) == [0.0]


def test_standard_scaling_centres_on_the_mean_and_divides_by_the_population_std() -> None:
    fitted = fit(pipeline(scale("standard", "AMOUNT")), AMOUNTS)
    std = statistics.pstdev([10.0, 20.0, 30.0, 100.0])
    assert vector(fitted, {"AMOUNT": 100.0}) == [pytest.approx((100.0 - 40.0) / std)]


def test_standard_scaling_of_a_constant_divides_by_one() -> None:
    fitted = fit(pipeline(scale("standard", "AMOUNT")), [{"AMOUNT": 5.0}, {"AMOUNT": 5.0}])
    assert vector(fitted, {"AMOUNT": 7.0}) == [2.0]


def test_minmax_scaling_maps_the_training_range_to_zero_to_one() -> None:
    fitted = fit(pipeline(scale("minmax", "AMOUNT")), AMOUNTS)
    assert vector(fitted, {"AMOUNT": 55.0}) == [pytest.approx(0.5)]
    assert vector(fitted, {"AMOUNT": 190.0}) == [pytest.approx(2.0)]


def test_minmax_scaling_of_a_constant_gives_zero() -> None:
    fitted = fit(pipeline(scale("minmax", "AMOUNT")), [{"AMOUNT": 5.0}])
    assert vector(fitted, {"AMOUNT": 9.0}) == [0.0]


def test_robust_scaling_centres_on_the_median_and_divides_by_the_interquartile_range() -> None:
    fitted = fit(pipeline(scale("robust", "AMOUNT")), AMOUNTS)
    # quartiles by linear interpolation between closest ranks: 17.5 and 47.5
    assert vector(fitted, {"AMOUNT": 55.0}) == [pytest.approx((55.0 - 25.0) / 30.0)]


def test_robust_scaling_with_no_spread_divides_by_one() -> None:
    fitted = fit(pipeline(scale("robust", "AMOUNT")), [{"AMOUNT": 3.0}] * 5)
    assert vector(fitted, {"AMOUNT": 4.5}) == [1.5]


def test_scaling_learns_from_the_imputed_values_of_an_earlier_step() -> None:
    steps = (impute("constant", "AMOUNT", value=100.0), scale("minmax", "AMOUNT"))
    fitted = fit(pipeline(*steps), [{"AMOUNT": 0.0}, {"AMOUNT": None}])
    assert vector(fitted, {"AMOUNT": None}) == [1.0]


CATEGORIES = [{"MCC": c} for c in ["food"] * 3 + ["fuel"] * 2 + ["toys", "art"]]


def test_one_hot_encoding_learns_the_most_frequent_categories_and_keeps_an_other_column() -> None:
    fitted = fit(pipeline(encode("one_hot", "MCC", max_categories=2)), CATEGORIES)
    assert fitted.feature_names == ("MCC=food", "MCC=fuel", "MCC=__other__")
    assert vector(fitted, {"MCC": "fuel"}) == [0.0, 1.0, 0.0]
    assert vector(fitted, {"MCC": "toys"}) == [0.0, 0.0, 1.0]
    assert vector(fitted, {"MCC": "never seen"}) == [0.0, 0.0, 1.0]


def test_ordinal_encoding_codes_the_learnt_categories_in_order_and_the_rest_after_them() -> None:
    fitted = fit(pipeline(encode("ordinal", "MCC", max_categories=3)), CATEGORIES)
    assert fitted.feature_names == ("MCC_code",)
    # kept: food (3), fuel (2), then art before toys (1 each, by name); coded alphabetically
    assert [vector(fitted, {"MCC": c})[0] for c in ("art", "food", "fuel", "toys")] == [
        0.0,
        1.0,
        2.0,
        3.0,
    ]


def test_categories_are_compared_as_text() -> None:
    fitted = fit(pipeline(encode("one_hot", "MCC")), [{"MCC": 5411}, {"MCC": "5812"}])
    assert vector(fitted, {"MCC": "5411"}) == vector(fitted, {"MCC": 5411.0}) == [1.0, 0.0, 0.0]


def test_a_missing_category_rejects_the_record_unless_it_is_imputed() -> None:
    fitted = fit(pipeline(encode("one_hot", "MCC")), CATEGORIES)
    rejection = fitted.transform({"MCC": None})
    assert isinstance(rejection, Rejection)
    assert rejection.field == "MCC=art"
    assert "MCC is missing" in rejection.reason
    imputed = fit(
        pipeline(impute("constant", "MCC", value="unknown"), encode("one_hot", "MCC")), CATEGORIES
    )
    assert vector(imputed, {})[-1] == 1.0


def test_a_feature_still_missing_after_every_step_rejects_the_record_naming_it() -> None:
    fitted = fit(pipeline(scale("standard", "AMOUNT", "FEE")), [{"AMOUNT": 1.0, "FEE": 2.0}])
    rejection = fitted.transform({"AMOUNT": 3.0, "FEE": None})
    assert rejection == Rejection("FEE", "is missing, and no imputation fills it")


def test_a_feature_that_is_not_a_number_rejects_the_record() -> None:
    fitted = fit(pipeline(scale("standard", "AMOUNT")), AMOUNTS)
    assert fitted.transform({"AMOUNT": "12.50"}) == Rejection("AMOUNT", "is not a number")
    assert fitted.transform({"AMOUNT": math.inf}) == Rejection("AMOUNT", "is not a finite number")


def test_a_missing_window_feature_says_why_it_has_no_value() -> None:
    document = pipeline(
        {
            "type": "time_window_aggregation",
            "entity_key": "CUSTOMER_ID",
            "windows": ["1d"],
            "aggregations": ["count"],
            "time_since_last": True,
        }
    )
    row = {"CUSTOMER_ID": "c1", "CUSTOMER_ID_count_1d": 1.0, "CUSTOMER_ID_time_since_last": None}
    fitted = fit(document, [{**row, "CUSTOMER_ID_time_since_last": 60.0}])
    rejection = fitted.transform(row)
    assert isinstance(rejection, Rejection)
    assert rejection.field == "CUSTOMER_ID_time_since_last"
    assert "no other record of this CUSTOMER_ID" in rejection.reason
    orphan = fitted.transform({"CUSTOMER_ID_count_1d": None, "CUSTOMER_ID_time_since_last": None})
    assert orphan == Rejection(
        "CUSTOMER_ID_count_1d", "has no value: the record has no CUSTOMER_ID"
    )


def test_the_features_listed_are_the_columns_in_their_order() -> None:
    steps = (scale("minmax", "AMOUNT"), encode("one_hot", "MCC"))
    rows = [{**c, "AMOUNT": float(n)} for n, c in enumerate(CATEGORIES)]
    fitted = fit(pipeline(*steps, features=["MCC=food", "AMOUNT"]), rows)
    assert fitted.feature_names == ("MCC=food", "AMOUNT")
    assert vector(fitted, {"MCC": "food", "AMOUNT": 3.0}) == [1.0, 0.5]


def test_a_listed_one_hot_column_whose_category_was_never_seen_is_refused_when_fitting() -> None:
    document = pipeline(encode("one_hot", "MCC"), features=["MCC=jewellery"])
    with pytest.raises(InvalidCommand) as refused:
        fit(document, CATEGORIES)
    assert refused.value.field == "features[0]"


def test_a_step_with_nothing_to_learn_from_is_refused_when_fitting() -> None:
    with pytest.raises(InvalidCommand) as refused:
        fit(pipeline(impute("median", "AMOUNT", "FEE")), [{"AMOUNT": 1.0, "FEE": "n/a"}])
    assert refused.value.field == "transformations[0].fields[1]"


def test_a_fitted_pipeline_is_json_and_transforms_alike_after_the_round_trip() -> None:
    steps = (
        impute("median", "AMOUNT"),
        scale("robust", "AMOUNT"),
        impute("constant", "MCC", value="unknown"),
        encode("one_hot", "MCC", max_categories=2),
        encode("ordinal", "CHANNEL"),
        {"type": "time_features", "flags": ["weekend", "night", "hour"]},
    )
    rows = [
        {**amount, **category, "CHANNEL": channel}
        for amount, category, channel in zip(
            AMOUNTS * 2, CATEGORIES, ["web", "pos", "web", "app", "pos", "web", "pos"], strict=False
        )
    ]
    rows = [feature_row(pipeline(*steps), WindowInput("t", "s", "r", 0.0, row), {}) for row in rows]
    fitted = fit(pipeline(*steps), rows)
    stored = json.dumps(fitted.to_json(), allow_nan=False)
    restored = FittedPipeline.from_json(json.loads(stored))
    assert restored == fitted
    unseen: dict[str, Any] = {"AMOUNT": None, "MCC": "toys", "CHANNEL": "fax", "event_hour": 3.0}
    for row in [*rows, unseen]:
        assert restored.transform(row) == fitted.transform(row)


def test_a_stored_pipeline_whose_columns_do_not_follow_from_it_is_refused() -> None:
    stored = fit(pipeline(scale("standard", "AMOUNT")), AMOUNTS).to_json()
    stored["feature_names"] = ["AMOUNT", "FEE"]
    with pytest.raises(InvalidCommand) as refused:
        FittedPipeline.from_json(stored)
    assert refused.value.field == "feature_names"


def test_time_features_flag_weekends_nights_and_the_hour_in_utc() -> None:
    steps = pipeline({"type": "time_features", "flags": ["weekend", "night", "hour"]})
    saturday_small_hours = 1_522_454_400.0 + 2 * 3600  # 2018-03-31 02:00 UTC, a Saturday
    monday_noon = 1_522_627_200.0 + 12 * 3600  # 2018-04-02 12:00 UTC
    rows = [
        feature_row(steps, WindowInput("t", "s", "r", at, {}), {})
        for at in (saturday_small_hours, monday_noon)
    ]
    fitted = fit(steps, rows)
    assert fitted.feature_names == ("event_is_weekend", "event_is_night", "event_hour")
    assert [vector(fitted, row) for row in rows] == [[1.0, 1.0, 2.0], [0.0, 0.0, 12.0]]
