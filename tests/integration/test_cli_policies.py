"""`vigil policies ...`: every document of every file is checked before the first is saved, and
disabling or enabling a policy is on the record with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.cli import main
from vigil.infrastructure.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies" / "card_escalations.yaml"
SLOW = """\
name: cards-slow
steps:
  - after: 1h
    notify: [fraud-team]
  - after: soon
    notify: [team-lead]
"""


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(list(args), settings)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_applied_policies_are_listed_and_applying_them_again_changes_nothing(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    applied = run(sqlite_settings, capsys, "policies", "apply", str(EXAMPLE), "--actor", "dana")
    assert applied == (0, "cards-critical: revision 1\ncards-high-amount: revision 1\n")
    assert run(sqlite_settings, capsys, "policies", "apply", str(EXAMPLE)) == (
        0,
        "cards-critical: unchanged\ncards-high-amount: unchanged\n",
    )
    status, listed = run(sqlite_settings, capsys, "policies", "list")
    assert status == 0
    assert listed.splitlines() == [
        "cards-critical (revision 1, enabled): 0m -> on-call; 15m -> team-lead",
        "cards-high-amount (revision 1, enabled): 30m -> fraud-team",
    ]


def test_a_bad_second_file_keeps_the_first_from_being_applied(
    sqlite_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slow = tmp_path / "slow.yaml"
    slow.write_text(SLOW)

    status, said = run(sqlite_settings, capsys, "policies", "apply", str(EXAMPLE), str(slow))

    assert status == 2
    assert f"{slow}, line 5: steps[1].after: 'soon' is not a delay" in said
    assert run(sqlite_settings, capsys, "policies", "list") == (0, "no escalation policies\n")


def test_a_policy_defined_twice_in_the_files_is_refused(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    status, said = run(sqlite_settings, capsys, "policies", "apply", str(EXAMPLE), str(EXAMPLE))
    assert status == 2
    assert f"{EXAMPLE}, line 5: name: 'cards-critical' is defined by an earlier document" in said


def test_disabling_and_enabling_a_policy_is_shown_in_its_history(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run(sqlite_settings, capsys, "policies", "apply", str(EXAMPLE), "--actor", "dana")
    disable = ("policies", "disable", "cards-critical", "--reason", "paging storm")
    assert run(sqlite_settings, capsys, *disable, "--actor", "erin") == (
        0,
        "cards-critical: disabled\n",
    )
    status, said = run(sqlite_settings, capsys, *disable)
    assert (status, said.strip()) == (
        2,
        "vigil policies disable: policy: cards-critical is disabled already",
    )
    enable = ("policies", "enable", "cards-critical", "--reason", "storm over", "--actor", "erin")
    assert run(sqlite_settings, capsys, *enable) == (0, "cards-critical: enabled\n")

    status, shown = run(sqlite_settings, capsys, "policies", "show", "cards-critical")
    assert status == 0
    body = json.loads(shown)
    assert (body["revision"], body["enabled"], body["name"]) == (1, True, "cards-critical")
    assert body["steps"][1] == {"after": "15m", "notify": ["team-lead"]}
    assert [(h["event"], h["actor"], h["why"]) for h in body["history"]] == [
        ("Defined", "dana", ""),
        ("Disabled", "erin", "paging storm"),
        ("Enabled", "erin", "storm over"),
    ]


def test_an_unknown_policy_is_refused_by_name(
    sqlite_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (("show", "nope"), ("disable", "nope", "--reason", "x")):
        status, said = run(sqlite_settings, capsys, "policies", *command)
        assert status == 2
        assert "name: no escalation policy named 'nope'" in said
