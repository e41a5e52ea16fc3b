"""Feature pipeline documents: what they say, the names they produce, and every refusal naming
the path at fault."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from vigil.domain.errors import InvalidCommand
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_steps import Imputation, TimeFeatures, WindowAggregation
from vigil.domain.feature_windows import Aggregation, parse_window

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pipelines" / "card_features.yaml"
CARD_FIELDS = ["TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT"]


def card_document() -> dict[str, Any]:
    return {
        "name": "card_features",
        "source": "cards",
        "transformations": [
            {
                "type": "time_window_aggregation",
                "entity_key": "CUSTOMER_ID",
                "field": "TX_AMOUNT",
                "windows": ["1h", "24h", "7d"],
                "aggregations": ["count", "mean", "std"],
                "time_since_last": True,
            },
            {
                "type": "time_window_aggregation",
                "entity_key": "TERMINAL_ID",
                "windows": ["1d"],
                "aggregations": ["count"],
            },
            {
                "type": "imputation",
                "strategy": "median",
                "fields": ["TX_AMOUNT", "CUSTOMER_ID_time_since_last"],
            },
            {"type": "scaling", "method": "standard", "fields": ["TX_AMOUNT"]},
            {"type": "encoding", "method": "one_hot", "field": "MERCHANT_CATEGORY"},
        ],
    }


def changed(path: list[str | int], value: object) -> dict[str, Any]:
    """The card document with the value at `path` replaced (or removed, for ...)."""
    document = card_document()
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


def refusal(document: object, record_fields: list[str] | None = None) -> InvalidCommand:
    with pytest.raises(InvalidCommand) as refused:
        FeaturePipeline.from_document(document, record_fields)
    return refused.value


def test_a_card_document_reads_as_its_steps() -> None:
    pipeline = FeaturePipeline.from_document(card_document())
    customer = pipeline.steps[0]
    assert isinstance(customer, WindowAggregation)
    assert [w.seconds for w in customer.windows] == [3600.0, 86_400.0, 604_800.0]
    assert customer.aggregations == (Aggregation.COUNT, Aggregation.MEAN, Aggregation.STD)
    assert isinstance(pipeline.steps[2], Imputation)
    assert pipeline.features is None


def test_window_features_are_named_after_the_entity_the_field_the_aggregate_and_the_window() -> (
    None
):
    pipeline = FeaturePipeline.from_document(card_document())
    assert pipeline.window_feature_names == (
        "CUSTOMER_ID_count_1h",
        "CUSTOMER_ID_count_24h",
        "CUSTOMER_ID_count_7d",
        "CUSTOMER_ID_TX_AMOUNT_mean_1h",
        "CUSTOMER_ID_TX_AMOUNT_mean_24h",
        "CUSTOMER_ID_TX_AMOUNT_mean_7d",
        "CUSTOMER_ID_TX_AMOUNT_std_1h",
        "CUSTOMER_ID_TX_AMOUNT_std_24h",
        "CUSTOMER_ID_TX_AMOUNT_std_7d",
        "CUSTOMER_ID_time_since_last",
        "TERMINAL_ID_count_1d",
    )


def test_a_pipeline_survives_its_own_document() -> None:
    pipeline = FeaturePipeline.from_document(card_document())
    assert FeaturePipeline.from_document(pipeline.to_document()) == pipeline


def test_the_example_card_pipeline_is_a_valid_document_over_the_card_fields() -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    pipeline = FeaturePipeline.from_document(document, CARD_FIELDS)
    assert pipeline.features is not None
    assert "CUSTOMER_ID_TX_AMOUNT_mean_30d" in pipeline.features
    assert any(isinstance(s, TimeFeatures) for s in pipeline.steps)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("15m", 900.0), ("1h", 3600.0), ("24h", 86_400.0), ("30d", 2_592_000.0)],
)
def test_a_window_is_a_whole_number_and_a_unit(text: str, seconds: float) -> None:
    assert parse_window("w", text).seconds == seconds


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["name"], "Card Features!", "name"),
        (["source"], ..., "source"),
        (["transformations"], [], "transformations"),
        (["transformations", 0], "count everything", "transformations[0]"),
        (["transformations", 0, "type"], "rolling_mean", "transformations[0].type"),
        (["transformations", 0, "windows", 1], "24 hours", "transformations[0].windows[1]"),
        (["transformations", 0, "windows", 1], "0h", "transformations[0].windows[1]"),
        (["transformations", 0, "windows", 1], 3600, "transformations[0].windows[1]"),
        (["transformations", 0, "windows", 1], "400d", "transformations[0].windows[1]"),
        (["transformations", 0, "windows", 2], "60m", "transformations[0].windows[2]"),
        (["transformations", 0, "windows"], [], "transformations[0].windows"),
        (["transformations", 0, "aggregations", 1], "median", "transformations[0].aggregations[1]"),
        (["transformations", 0, "aggregations", 2], "count", "transformations[0].aggregations[2]"),
        (["transformations", 0, "field"], ..., "transformations[0].field"),
        (["transformations", 0, "entity_key"], "", "transformations[0].entity_key"),
        (["transformations", 0, "time_since_last"], "yes", "transformations[0].time_since_last"),
        (["transformations", 0, "window"], "1h", "transformations[0].window"),
        (["transformations", 1, "field"], "TX_AMOUNT", "transformations[1].field"),
        (["transformations", 2, "strategy"], "mode", "transformations[2].strategy"),
        (["transformations", 2, "strategy"], "constant", "transformations[2].value"),
        (["transformations", 2, "value"], 0, "transformations[2].value"),
        (["transformations", 2, "fields", 1], "TX_AMOUNT", "transformations[2].fields[1]"),
        (["transformations", 2, "fields"], "TX_AMOUNT", "transformations[2].fields"),
        (["transformations", 3, "method"], "zscore", "transformations[3].method"),
        (["transformations", 4, "method"], "hash", "transformations[4].method"),
        (["transformations", 4, "max_categories"], 0, "transformations[4].max_categories"),
        (["transformations", 4, "max_categories"], True, "transformations[4].max_categories"),
        (["features"], [], "features"),
        (["features"], ["TX_AMOUNT", "TX_AMOUNT"], "features[1]"),
        (["features"], ["TX_AMOUNT", "MERCHANT_CATEGORY"], "features[1]"),
        (["colour"], "blue", "colour"),
    ],
)
def test_a_mistake_in_the_document_is_refused_naming_its_path(
    path: list[str | int], value: object, field: str
) -> None:
    assert refusal(changed(path, value)).field == field


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    assert refusal(["name", "card_features"]).field == "document"


def test_a_constant_imputation_needs_its_value() -> None:
    document = changed(["transformations", 2, "strategy"], "constant")
    refused = refusal(document)
    assert refused.field == "transformations[2].value"
    assert "required" in refused.reason


def test_a_step_may_not_read_what_only_a_later_step_produces() -> None:
    document = card_document()
    document["transformations"].insert(
        0, {"type": "scaling", "method": "robust", "fields": ["TERMINAL_ID_count_1d"]}
    )
    refused = refusal(document)
    assert refused.field == "transformations[0].fields[0]"
    assert "transformations[2]" in refused.reason


def test_a_field_no_record_has_and_no_step_produces_is_refused_when_the_fields_are_known() -> None:
    document = changed(["transformations", 3, "fields"], ["TX_AMOUNT", "TX_AMMOUNT"])
    refused = refusal(document, [*CARD_FIELDS, "MERCHANT_CATEGORY"])
    assert refused.field == "transformations[3].fields[1]"
    assert "TX_AMMOUNT" in refused.reason


def test_an_entity_key_the_records_do_not_have_is_refused_when_the_fields_are_known() -> None:
    document = changed(["transformations", 1, "entity_key"], "MERCHANT_ID")
    assert refusal(document, CARD_FIELDS).field == "transformations[1].entity_key"


def test_windows_aggregate_record_fields_not_what_other_steps_compute() -> None:
    document = changed(["transformations", 1, "entity_key"], "CUSTOMER_ID_count_1h")
    assert refusal(document).field == "transformations[1].entity_key"


def test_two_steps_producing_one_name_are_refused() -> None:
    document = card_document()
    document["transformations"].append(
        {
            "type": "time_window_aggregation",
            "entity_key": "TERMINAL_ID",
            "windows": ["7d", "1d"],
            "aggregations": ["count"],
        }
    )
    refused = refusal(document)
    assert refused.field == "transformations[5].windows[1]"
    assert "transformations[1]" in refused.reason


def test_a_produced_name_that_is_already_a_record_field_is_refused() -> None:
    refused = refusal(card_document(), [*CARD_FIELDS, "MERCHANT_CATEGORY", "TERMINAL_ID_count_1d"])
    assert refused.field == "transformations[1].windows[0]"


def test_two_time_feature_steps_produce_the_same_flags_and_are_refused() -> None:
    document = card_document()
    document["transformations"] += [
        {"type": "time_features", "flags": ["weekend"]},
        {"type": "time_features", "flags": ["night", "weekend"]},
    ]
    assert refusal(document).field == "transformations[6].flags[1]"


def test_a_field_is_encoded_once() -> None:
    document = card_document()
    document["transformations"].append(
        {"type": "encoding", "method": "ordinal", "field": "MERCHANT_CATEGORY"}
    )
    assert refusal(document).field == "transformations[5].field"


def test_a_feature_the_pipeline_cannot_provide_is_refused_when_the_fields_are_known() -> None:
    document = changed(["features"], ["TX_AMOUNT", "CUSTOMER_ID_TX_AMOUNT_mean_30d"])
    refused = refusal(document, [*CARD_FIELDS, "MERCHANT_CATEGORY"])
    assert refused.field == "features[1]"


def test_a_one_hot_column_may_be_named_as_a_feature_before_its_category_is_learnt() -> None:
    document = changed(["features"], ["TX_AMOUNT", "MERCHANT_CATEGORY=grocery"])
    pipeline = FeaturePipeline.from_document(document, [*CARD_FIELDS, "MERCHANT_CATEGORY"])
    assert pipeline.features == ("TX_AMOUNT", "MERCHANT_CATEGORY=grocery")


def test_time_since_last_alone_needs_no_aggregation() -> None:
    document = card_document()
    document["transformations"][0] = {
        "type": "time_window_aggregation",
        "entity_key": "CUSTOMER_ID",
        "windows": ["7d"],
        "time_since_last": True,
    }
    pipeline = FeaturePipeline.from_document(document)
    assert pipeline.window_feature_names[0] == "CUSTOMER_ID_time_since_last"


def test_the_document_given_is_not_changed_by_reading_it() -> None:
    document = card_document()
    before = copy.deepcopy(document)
    FeaturePipeline.from_document(document)
    assert document == before


def time_features_document(**step: object) -> dict[str, Any]:
    document = card_document()
    document["transformations"].append({"type": "time_features", **step})
    return document


def test_the_night_s_hours_survive_the_pipeline_s_document() -> None:
    pipeline = FeaturePipeline.from_document(
        time_features_document(flags=["weekend", "night"], night_hours=[0, 7])
    )
    assert pipeline.time_steps[0].night_hours == (0, 7)
    assert pipeline.to_document()["transformations"][-1]["night_hours"] == [0, 7]
    assert FeaturePipeline.from_document(pipeline.to_document()) == pipeline


def test_a_document_that_does_not_set_the_night_keeps_the_default_and_says_nothing_of_it() -> None:
    pipeline = FeaturePipeline.from_document(time_features_document(flags=["night"]))
    assert pipeline.time_steps[0].night_hours == (0, 6)
    assert "night_hours" not in pipeline.to_document()["transformations"][-1]


def test_the_handbook_pipeline_s_night_is_the_handbook_s() -> None:
    document = yaml.safe_load((EXAMPLE.parent / "card_handbook.yaml").read_text())
    pipeline = FeaturePipeline.from_document(document, [*CARD_FIELDS, "TX_FRAUD"])
    assert pipeline.time_steps[0].night_hours == (0, 7)


@pytest.mark.parametrize(
    ("night_hours", "field"),
    [
        ("0-7", "transformations[5].night_hours"),
        ([0], "transformations[5].night_hours"),
        ([0, 7, 8], "transformations[5].night_hours"),
        ([-1, 7], "transformations[5].night_hours[0]"),
        ([24, 7], "transformations[5].night_hours[0]"),
        (["00:00", 7], "transformations[5].night_hours[0]"),
        ([True, 7], "transformations[5].night_hours[0]"),
        ([0, 0], "transformations[5].night_hours[1]"),
        ([0, 25], "transformations[5].night_hours[1]"),
        ([0, 6.5], "transformations[5].night_hours[1]"),
        ([6, 6], "transformations[5].night_hours"),
        ([0, 24], "transformations[5].night_hours"),
    ],
)
def test_night_hours_that_are_not_two_distinct_whole_hours_are_refused_naming_the_field(
    night_hours: object, field: str
) -> None:
    refused = refusal(time_features_document(flags=["night"], night_hours=night_hours))
    assert refused.field == field


def test_night_hours_without_the_night_flag_are_refused() -> None:
    refused = refusal(time_features_document(flags=["weekend", "hour"], night_hours=[0, 7]))
    assert refused.field == "transformations[5].night_hours"
    assert "night" in refused.reason
