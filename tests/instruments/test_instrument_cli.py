"""`peerready validate` and `peerready schema`, through click and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from instrument_samples import VALID_INSTRUMENT, line_of, replace_once

from app.cli import cli

HOSTILE = Path(__file__).parent / "hostile"
REPOSITORY = Path(__file__).resolve().parents[2]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_validate_prints_ok_with_the_version_key(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(VALID_INSTRUMENT)
    result = run("validate", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"OK {path} (mini 1.0+")
    assert lines[-1] == "1 file(s) checked: 1 valid, 0 invalid"


def test_validate_prints_one_line_per_error_and_fails(tmp_path):
    (tmp_path / "good.yaml").write_text(VALID_INSTRUMENT)
    broken = replace_once("    scale: yesno\n", "    scale: yes_no\n")
    (tmp_path / "bad.yaml").write_text(broken)
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert (
        f"{tmp_path / 'bad.yaml'}:{line_of(broken, 'yes_no')}: items[0].scale: "
        "no scale has the id 'yes_no' (known: agree, yesno) [unknown-reference]"
    ) in result.output.splitlines()
    assert result.output.splitlines()[-1] == "2 file(s) checked: 1 valid, 1 invalid (1 errors)"


def test_validate_exits_2_for_a_missing_path(tmp_path):
    result = run("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_validate_fails_for_a_folder_without_instruments(tmp_path):
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "No instrument files" in result.output


def test_validate_on_the_hostile_corpus_never_shows_a_traceback():
    result = run("validate", str(HOSTILE))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    count = len(list(HOSTILE.iterdir()))
    assert result.output.splitlines()[-1].startswith(f"{count} file(s) checked: 0 valid, {count} invalid")


def test_schema_prints_json(tmp_path):
    result = run("schema")
    assert result.exit_code == 0
    assert "items" in json.loads(result.output)["properties"]


def test_schema_writes_a_file(tmp_path):
    out = tmp_path / "instrument.schema.json"
    result = run("schema", "--out", str(out))
    assert result.exit_code == 0
    assert "items" in json.loads(out.read_text())["properties"]


def test_python_dash_m_app_runs_validate(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nid: y\n")
    completed = subprocess.run(
        [sys.executable, "-m", "app", "validate", str(path)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert (
        f"{path}:2: key 'id' appears twice in the same mapping (first on line 1) [duplicate-key]"
        in completed.stdout
    )
    assert completed.stderr == ""


def test_validate_fails_for_two_files_with_one_instrument_id(tmp_path):
    (tmp_path / "mini.yaml").write_text(VALID_INSTRUMENT)
    (tmp_path / "mini-copy.yaml").write_text(VALID_INSTRUMENT)
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for name, other in (("mini.yaml", "mini-copy.yaml"), ("mini-copy.yaml", "mini.yaml")):
        assert (
            f"{tmp_path / name}:1: id: instrument id 'mini' is also used by {other} in the same folder; "
            "keep one file per instrument id (earlier versions live on in the assessments pinned to "
            "them) [duplicate-instrument]"
        ) in lines
    assert lines[-1] == "2 file(s) checked: 0 valid, 2 invalid (2 errors)"
