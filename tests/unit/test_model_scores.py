"""Champion/challenger counts from one batch of scores."""

from __future__ import annotations

import pytest

from vigil.application.model_scores import (
    Comparison,
    ModelScores,
    ScoredRecords,
    comparison_counts,
)


def scores(line: str, version: str, stage: str, values: list[float | None]) -> ModelScores:
    return ModelScores(
        line, version, stage, 0.5, values, [v is not None and v >= 0.5 for v in values]
    )


def test_a_shadow_is_counted_against_its_own_lines_champion_on_records_both_scored() -> None:
    batch = ScoredRecords(
        "acme",
        "cards",
        ["a", "b", "c", "d"],
        [
            scores("cards-lgbm", "c1", "champion", [0.9, 0.1, 0.7, 0.2]),
            scores("cards-lgbm", "s1", "shadow", [0.8, 0.6, None, 0.1]),
            scores("cards-iforest", "s2", "shadow", [0.9, 0.9, 0.9, 0.9]),  # no champion there
        ],
    )

    [count] = comparison_counts(ScoredRecords.from_json(batch.to_json()))

    assert (count.champion_version, count.shadow_version) == ("c1", "s1")
    assert (count.scored, count.champion_alerts, count.shadow_alerts, count.both_alerts) == (
        3,
        1,
        2,
        1,
    )
    assert count.score_gap == pytest.approx(0.1 + 0.5 + 0.1)


def test_agreement_is_the_share_of_records_both_alerted_or_both_passed() -> None:
    compared = Comparison("cards-lgbm", "c1", "s1", 100, 10, 14, 8, 3.0)
    assert compared.agreement == pytest.approx(1 - (2 + 6) / 100)
    assert compared.mean_score_gap == pytest.approx(0.03)
    assert Comparison("cards-lgbm", "c1", "s1", 0, 0, 0, 0, 0.0).agreement == 1.0
