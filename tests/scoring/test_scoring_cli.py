"""`peerready score`: the offline scorer for paper responses."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from scoring_support import SCORING_MD, fenced_blocks, worked_example

from app.cli import cli
from app.scoring import Scorecard, score_responses
from app.scoring.csv_responses import parse_responses_csv

INSTRUMENT, RESPONSES_CSV, _ = worked_example()


@pytest.fixture
def files(tmp_path):
    (instrument_yaml,) = fenced_blocks(SCORING_MD.read_text(encoding="utf-8"), "yaml example-instrument")
    instrument = tmp_path / "example.yaml"
    instrument.write_text(instrument_yaml, encoding="utf-8")
    responses = tmp_path / "responses.csv"
    responses.write_text(RESPONSES_CSV, encoding="utf-8")
    return instrument, responses


def run(*args: str):
    return CliRunner().invoke(cli, ["score", *args])


def test_prints_a_readable_report(files):
    instrument, responses = files
    result = run("--instrument", str(instrument), str(responses), "--privacy-threshold", "2")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Instrument worked_example 1.0: 5 respondents (leadership 2, peer_staff 3)" in out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("Condition") and "Agreement" in line)
    assert header.split() == [
        "Condition",
        "Score",
        "Level",
        "n",
        "Below",
        "cov.",
        "SD",
        "Agreement",
        "DK",
        "rate",
    ]
    purpose = next(line for line in lines if line.startswith("Clear purpose and inclusion  76.0"))
    assert purpose.split()[4:] == ["76.0", "Established", "4", "1", "13.8", "high", "13.3%"]
    groups = lines[lines.index("GROUPS") + 3 : lines.index("GROUPS") + 7]
    assert [[cell.strip() for cell in line.split("  ")[-3:]] for line in groups] == [
        ["Leadership", "2", "87.5"],
        ["Peer staff", "2", "64.6"],
        ["Leadership", "2", "72.9"],
        ["Peer staff", "3", "30.6"],
    ]
    assert "- Clear purpose and inclusion: Leadership 87.5 vs Peer staff 64.6 (gap 22.9)" in out
    assert "STRENGTHS\n- Clear purpose and inclusion (76.0)" in out
    assert (
        "PRIORITIES\n- Team integration\n    Team integration scored 47.5, below the priority line of 60.0\n"
        in out
    )
    assert "1. Bring peer staff into team meetings [Team integration; Next month]" in out
    assert "4. Hold a listening session between leadership and peer staff" in out
    assert "    because: Team integration scored 47.5, below 60.0\n" in out
    # The same sentences as the page and the PDF: numbers always with one decimal.
    assert "averaged 35.0, below 50.0\n" in out
    assert "(more than 10.0%)\n" in out


def test_default_threshold_pools_small_groups(files):
    instrument, responses = files
    result = run("--instrument", str(instrument), str(responses))
    assert result.exit_code == 0, result.output
    assert "All groups (combined) (leadership, peer_staff)" in result.output
    assert "Not shown on their own" in result.output
    assert "PERCEPTION GAPS\n(none)" in result.output


def test_json_is_the_scorecard(files):
    instrument, responses = files
    result = run("--instrument", str(instrument), str(responses), "--json", "--privacy-threshold", "2")
    assert result.exit_code == 0, result.output
    card = Scorecard.model_validate_json(result.output)
    expected = score_responses(
        INSTRUMENT, parse_responses_csv(INSTRUMENT, RESPONSES_CSV), privacy_threshold=2
    )
    assert card == expected


def test_csv_errors_exit_1_with_row_and_column(files, tmp_path):
    instrument, _ = files
    bad = tmp_path / "bad.csv"
    bad.write_text("respondent,group,p1,zz\nR1,leadership,9,\nR2,nobody,1,\n", encoding="utf-8")
    result = run("--instrument", str(instrument), str(bad))
    assert result.exit_code == 1
    assert f"{bad}: row 1, column zz (D): unknown column 'zz'" in result.stderr
    assert f"{bad}: row 2, column p1 (C): '9' is not an answer to p1" in result.stderr
    assert f"{bad}: row 3, column group (B): group 'nobody' is not a respondent group" in result.stderr
    assert "3 error(s); nothing was scored." in result.stderr
    assert "Traceback" not in result.output


def test_broken_instrument_file_exits_1_without_traceback(tmp_path, files):
    _, responses = files
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nversion: [\n", encoding="utf-8")
    result = run("--instrument", str(broken), str(responses))
    assert result.exit_code == 1
    assert "broken.yaml" in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unknown_instrument_id_exits_1(files, monkeypatch, tmp_path):
    _, responses = files
    empty = tmp_path / "instruments"
    empty.mkdir()
    monkeypatch.setenv("PEERREADY_INSTRUMENTS_DIR", str(empty))
    result = run("--instrument", "no_such_instrument", str(responses))
    assert result.exit_code == 1
    assert "no instrument with id 'no_such_instrument'" in result.stderr


def test_instrument_by_id(files, monkeypatch, tmp_path):
    instrument, responses = files
    folder = tmp_path / "instruments"
    folder.mkdir()
    (folder / "worked-example.yaml").write_text(instrument.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("PEERREADY_INSTRUMENTS_DIR", str(folder))
    result = run("--instrument", "worked_example", str(responses), "--json")
    assert result.exit_code == 0, result.output
    assert Scorecard.model_validate_json(result.output).instrument_id == "worked_example"


def test_non_utf8_file_is_refused_plainly(files, tmp_path):
    instrument, _ = files
    latin = tmp_path / "latin.csv"
    latin.write_bytes("group,p1\nleadership,4\n\xe9\n".encode("latin-1"))
    result = run("--instrument", str(instrument), str(latin))
    assert result.exit_code == 1
    assert "not UTF-8 text" in result.stderr
