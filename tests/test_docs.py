"""Documentation stays true: every setting and command is in the README, the Dockerfile's paths
exist, and the README's two commands are what CI runs."""

import re
from pathlib import Path

from app.cli import cli
from app.config import Settings, environment_names

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _settings_table() -> dict[str, str]:
    """README's settings table: each variable named in the first column -> the default cell."""
    section = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("variable", "---"):
            continue
        for variable in re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0]):
            rows[variable] = cells[1]
    assert rows, "README.md has no settings table"
    return rows


def test_every_setting_is_in_the_settings_table():
    table = _settings_table()
    for name, variables in environment_names().items():
        assert any(v in table for v in variables), f"setting {name} ({variables[0]}) is not in README.md"


def test_every_variable_in_the_settings_table_is_a_setting():
    known = {variable for variables in environment_names().values() for variable in variables}
    for variable in _settings_table():
        assert variable in known, f"README.md documents {variable}, which is not a field of Settings"


def test_documented_number_defaults_are_the_real_ones():
    table = _settings_table()
    for name, variables in environment_names().items():
        default = Settings.model_fields[name].default
        if isinstance(default, int) and not isinstance(default, bool):
            cell = next(table[v] for v in variables if v in table)
            assert f"`{default}`" in cell, f"README.md gives {cell} as the default of {variables[0]}"


def _command_names(group, prefix=""):
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):
            yield from _command_names(command, full + " ")
        else:
            yield full


def test_every_command_is_documented():
    names = list(_command_names(cli))
    assert names, "the CLI has no commands"
    for name in names:
        assert f"peerready {name}" in README, f"`peerready {name}` is not documented in README.md"


def test_dockerfile_copies_only_existing_paths():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    sources = []
    for line in dockerfile.splitlines():
        match = re.match(r"^\s*COPY\s+(.+)\s+\S+\s*$", line)
        if match:
            sources += [s for s in match.group(1).split() if not s.startswith("--")]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test.sh" in README and "bash scripts/test.sh" in ci
    assert "bash scripts/start.sh" in README


def test_ci_requires_every_skippable_dependency_and_the_readme_names_each_switch():
    """A PEERREADY_REQUIRE_* switch that a test reads is exported by .ci/run (so CI cannot pass by
    skipping) and explained in the README; CI=true (derandomized Hypothesis) is set by .ci/run
    itself, not left to the runner's environment."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    exports = " ".join(line for line in ci.splitlines() if line.startswith("export "))
    switches = set()
    for path in (ROOT / "tests").rglob("*.py"):
        switches |= set(re.findall(r"PEERREADY_REQUIRE_[A-Z]+", path.read_text(encoding="utf-8")))
    assert {f"PEERREADY_REQUIRE_{name}" for name in ("POSTGRES", "BROWSER", "PDFTOPPM")} <= switches
    for switch in sorted(switches):
        assert f"{switch}=1" in exports, f".ci/run does not export {switch}=1"
        assert f"`{switch}=1`" in README, f"README.md does not explain {switch}"
    assert "CI=true" in exports.split(), ".ci/run does not export CI=true"


def test_csv_layout_example_scores_with_the_documented_commands(tmp_path, monkeypatch):
    """docs/csv-layout.md's example file and its "Scoring offline" commands work as written, with
    the worked-example instrument copied out of docs/scoring.md."""
    from click.testing import CliRunner

    layout = (ROOT / "docs" / "csv-layout.md").read_text(encoding="utf-8")
    scoring = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    instrument = re.search(r"```yaml example-instrument\n(.*?)```", scoring, re.S)
    example = re.search(r"## Example.*?```csv\n(.*?)```", layout, re.S)
    assert instrument and example
    (tmp_path / "worked_example.yaml").write_text(instrument.group(1), encoding="utf-8")
    (tmp_path / "responses.csv").write_text(example.group(1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    offline = layout.split("## Scoring offline", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^    peerready (score .*worked_example\.yaml.*)$", offline, re.M)
    assert len(commands) == 2
    for command in commands:
        result = CliRunner().invoke(cli, command.split())
        assert result.exit_code == 0, (command, result.output)
        assert "Team integration" in result.output
        assert "47.5" in result.output  # the score docs/scoring.md works out for this file
