"""The night flag of the time features: before 06:00 UTC unless the pipeline sets its hours,
which may run past midnight."""

from __future__ import annotations

import json

import pytest

from vigil.application.features import FittedPipeline, WindowInput, feature_row, fit
from vigil.domain.feature_pipeline import FeaturePipeline
from vigil.domain.feature_steps import TimeFeatures, TimeFlag

MONDAY = 1_522_627_200.0
"""2018-04-02 00:00 UTC."""


def night_flag(step: TimeFeatures, hour: int, minute: int = 0) -> float:
    return step.compute(MONDAY + hour * 3_600.0 + minute * 60.0)["event_is_night"]


def nights(step: TimeFeatures) -> list[int]:
    return [hour for hour in range(24) if night_flag(step, hour, 30) == 1.0]


def test_the_default_night_is_midnight_to_six() -> None:
    step = TimeFeatures((TimeFlag.NIGHT,))
    assert nights(step) == [0, 1, 2, 3, 4, 5]
    assert (night_flag(step, 5, 59), night_flag(step, 6, 0)) == (1.0, 0.0)


def test_the_handbook_s_night_runs_to_the_end_of_hour_six() -> None:
    step = TimeFeatures((TimeFlag.NIGHT,), night_hours=(0, 7))
    assert nights(step) == [0, 1, 2, 3, 4, 5, 6]
    assert (night_flag(step, 6, 59), night_flag(step, 7, 0)) == (1.0, 0.0)


def test_a_night_that_starts_before_midnight_wraps_past_it() -> None:
    assert nights(TimeFeatures((TimeFlag.NIGHT,), (22, 6))) == [0, 1, 2, 3, 4, 5, 22, 23]
    assert nights(TimeFeatures((TimeFlag.NIGHT,), night_hours=(20, 24))) == [20, 21, 22, 23]


@pytest.mark.parametrize("night_hours", [(0, 6), (0, 7), (22, 6)])
def test_the_night_s_hours_change_the_night_flag_alone(night_hours: tuple[int, int]) -> None:
    step = TimeFeatures((TimeFlag.WEEKEND, TimeFlag.NIGHT, TimeFlag.HOUR), night_hours)
    saturday_six_thirty = MONDAY - 2 * 86_400.0 + 6.5 * 3_600.0
    values = step.compute(saturday_six_thirty)
    assert (values["event_is_weekend"], values["event_hour"]) == (1.0, 6.0)
    assert values["event_is_night"] == (1.0 if night_hours == (0, 7) else 0.0)


def test_a_stored_model_s_pipeline_flags_the_night_it_was_trained_with() -> None:
    """The score worker reads the pipeline stored with the model: its night is the same."""
    step = {"type": "time_features", "flags": ["night"], "night_hours": [0, 7]}
    pipeline = FeaturePipeline.from_document(
        {"name": "p", "source": "cards", "transformations": [step]}
    )
    at_six_thirty = WindowInput("t", "s", "r", MONDAY + 6.5 * 3_600.0, {})
    trained = fit(pipeline, [feature_row(pipeline, at_six_thirty, {})])
    served = FittedPipeline.from_json(json.loads(json.dumps(trained.to_json())))
    assert served.transform(feature_row(served.pipeline, at_six_thirty, {})) == [1.0]
