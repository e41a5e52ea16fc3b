"""`vigil sources apply`: every document of every file is checked before the first is saved."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.cli import main
from vigil.infrastructure.settings import Settings

CARDS = Path(__file__).resolve().parents[2] / "examples" / "sources" / "cards.yaml"
BAD_LOGINS = """\
name: logins
source_type: rest
config: {record_id: id}
schema:
  type: object
  required: [id]
  properties:
    id: {type: money}
"""


def run(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(list(args), settings)
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_a_file_with_one_bad_document_is_refused_at_its_line_and_registers_none(
    sqlite_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = tmp_path / "sources.yaml"
    both.write_text(CARDS.read_text() + "---\n" + BAD_LOGINS)
    bad_line = len(CARDS.read_text().splitlines()) + 1 + 8

    status, said = run(sqlite_settings, capsys, "sources", "apply", str(both))

    assert status == 2
    assert f"{both}, line {bad_line}: schema.properties.id.type:" in said
    assert run(sqlite_settings, capsys, "sources", "show", "cards")[0] == 2


def test_a_bad_second_file_keeps_the_first_from_being_applied(
    sqlite_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "logins.yaml"
    bad.write_text(BAD_LOGINS)

    status, said = run(sqlite_settings, capsys, "sources", "apply", str(CARDS), str(bad))

    assert status == 2
    assert f"{bad}, line 8: schema.properties.id.type:" in said
    assert run(sqlite_settings, capsys, "sources", "show", "cards")[0] == 2
    assert run(sqlite_settings, capsys, "sources", "apply", str(CARDS)) == (
        0,
        "cards (csv): version 1\n",
    )
    assert run(sqlite_settings, capsys, "sources", "show", "cards")[0] == 0
