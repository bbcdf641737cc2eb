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
    assert len(commands) == 3
    for command in commands:
        result = CliRunner().invoke(cli, command.split())
        assert result.exit_code == 0, (command, result.output)
        assert "Team integration" in result.output
        assert "47.5" in result.output  # the score docs/scoring.md works out for this file
        # With --privacy-threshold 2 the groups are shown on their own (scoring.md, Step 6 and 7).
        shown = "--privacy-threshold 2" in command
        assert ("Hold a listening session between leadership and peer staff" in result.output) == shown


def _readme_command_rows() -> list[tuple[str, str]]:
    """README's command table: (usage in the first column, the description)."""
    section = README.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `peerready ([^`]+)` (?:\(or `[^`]+`\) )?\| (.*) \|$", section, re.M)
    assert rows, "README.md has no command table"
    return rows


def _command(words: list[str]):
    command = cli
    for word in words:
        if not hasattr(command, "commands") or word not in command.commands:
            break
        command = command.commands[word]
    return command


def test_every_documented_command_option_exists_and_every_option_is_documented():
    """Each `--option` named in a row of the README's command table is an option of that command,
    and each option of a command is named in one of its rows."""
    documented: dict[str, set[str]] = {}
    commands = {}
    for usage, description in _readme_command_rows():
        command = _command(usage.replace("\\|", "|").split())
        assert command is not cli, f"README.md documents `peerready {usage}`, which is not a command"
        commands[command.name] = command
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", usage + " " + description))
        real = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        assert named <= real, f"`peerready {usage}`: {sorted(named - real)} not options of the command"
        documented.setdefault(command.name, set()).update(named)
    for name, command in commands.items():
        options = {p.opts[0] for p in command.params if p.opts[0].startswith("--")} - {"--help"}
        assert options <= documented[name], (
            f"`peerready {name}`: {sorted(options - documented[name])} undocumented"
        )


def test_documented_text_defaults_are_the_real_ones():
    """String, path and flag defaults in the settings table are the real ones (numbers: above)."""
    table = _settings_table()
    for name, variables in environment_names().items():
        default = Settings.model_fields[name].default
        cell = next(table[v] for v in variables if v in table)
        if isinstance(default, bool):
            assert f"`{str(default).lower()}`" in cell, (variables[0], cell)
        elif isinstance(default, str) and default and name != "secret_key":
            assert f"`{default}`" in cell, (variables[0], cell)
        elif isinstance(default, Path) and name == "data_dir":
            assert f"`./{default}`" in cell, (variables[0], cell)


def _csv_layout_checks() -> dict[str, str]:
    """docs/csv-layout.md's table of checks: problem -> example message."""
    layout = (ROOT / "docs" / "csv-layout.md").read_text(encoding="utf-8")
    section = layout.split("## Checks", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (.+?) \| `(.+)` \|$", section, re.M))
    assert len(rows) > 10, "docs/csv-layout.md has no table of checks"
    return rows


def _example_instrument(*, with_extras: bool):
    """scoring.md's worked example; with_extras adds what the layout's examples name: p1
    required, and leadership-only items c1 (yes/no) and c2 (shown when c1 is yes)."""
    from app.instruments.loader import load_instrument_text

    scoring = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    text = re.search(r"```yaml example-instrument\n(.*?)```", scoring, re.S).group(1)
    if with_extras:
        text = text.replace("  - {id: p1, domain: purpose,", "  - {id: p1, required: true, domain: purpose,")
        text = text.replace(
            "\ndomains:",
            "\n  - id: yesno\n    options:\n      - {value: 'yes', label: 'Yes', kind: choice}\n"
            "      - {value: 'no', label: 'No', kind: choice}\ndomains:",
        )
        text = text.replace(
            "\nscoring:",
            "\n  - {id: c1, domain: purpose, scale: yesno, groups: [leadership], evidence: [vwn2022],\n"
            "     text: We employ parent peer specialists now.}\n"
            "  - {id: c2, domain: purpose, scale: agree5, groups: [leadership], evidence: [vwn2022],\n"
            "     show_if: {item: c1, in: ['yes']}, text: Peer staff have a supervisor.}\nscoring:",
        )
    return load_instrument_text(text, source="worked_example.yaml").instrument


# One file per row of the table of checks, made so that the row's example message applies.
_CHECK_FILES = {
    "column that is not `respondent`, `group` or an item id": "respondent,group,p1,q9\nR1,leadership,4,1\n",
    "the same column twice": "respondent,group,p1,p2,p1\nR1,leadership,4,4,4\n",
    "no `group` column (importing)": "respondent,p1\nR1,4\n",
    "a header cell left empty": "respondent,,p1\nR1,leadership,4\n",
    "unknown group": "respondent,group,p1\nR1,leadership,4\nR2,leadership,4\nR3,lead,4\n",
    "blank group": "respondent,group,p1\nR1,,4\n",
    "value not on the item's scale": "respondent,group,p1,p2,p3,t1,t2\n"
    + "R1,leadership,4,4,4,4,4\nR2,leadership,4,4,4,4,7\n",
    "an answer to an item this group is not asked": "respondent,group,c1\n"
    + "".join(f"R{n},leadership,yes\n" for n in range(2, 5))
    + "R5,peer_staff,yes\n",
    "an answer to an item hidden by its condition": "respondent,group,c1,c2\n"
    + "".join(f"R{n},leadership,yes,4\n" for n in range(2, 6))
    + "R6,leadership,no,3\n",
    "a required item that is shown but blank": "respondent,group,p1\n"
    + "".join(f"R{n},leadership,4\n" for n in range(2, 7))
    + "R7,leadership,\n",
    "a required item that is shown but has no column": "respondent,group,p2\nR1,leadership,4\n",
    "a repeated respondent label": "respondent,group,p1\nR2,leadership,4\nF-017,leadership,4\n"
    + "".join(f"R{n},leadership,4\n" for n in range(4, 8))
    + "F-017,leadership,4\n",
    "more cells than header columns": "respondent,group,p1,p2,p3,t1,t2,t3\n"
    + "".join(f"R{n},leadership,4,4,4,4,4,4\n" for n in range(2, 9))
    + "R9,leadership,4,4,4,4,4,4,4\n",
    "no respondents at all": "respondent,group,p1\n",
    "an empty file": "",
}


def test_every_csv_check_message_in_the_layout_is_what_the_importer_says():
    from app.scoring.csv_responses import ResponsesCsvInvalid, parse_responses_csv

    rows = _csv_layout_checks()
    extras = _example_instrument(with_extras=True)
    plain = _example_instrument(with_extras=False)
    for problem, message in rows.items():
        research = "`peerready score`" in problem
        content = "respondent,p1\nR1,4\n" if research else _CHECK_FILES.get(problem)
        assert content is not None, f"tests/test_docs.py has no file for the check {problem!r}"
        instrument = plain if research else extras
        try:
            parse_responses_csv(instrument, content, research=research)
        except ResponsesCsvInvalid as invalid:
            said = [str(error) for error in invalid.errors]
        else:
            said = []
        assert message in said, (problem, said)


def test_score_prints_each_error_with_the_file_name_and_exits_1(tmp_path, monkeypatch):
    from click.testing import CliRunner

    scoring = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    instrument = re.search(r"```yaml example-instrument\n(.*?)```", scoring, re.S).group(1)
    (tmp_path / "worked_example.yaml").write_text(instrument, encoding="utf-8")
    (tmp_path / "responses.csv").write_text(_CHECK_FILES["value not on the item's scale"], encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["score", "--instrument", "worked_example.yaml", "responses.csv"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "responses.csv: " + _csv_layout_checks()["value not on the item's scale"],
        "1 error(s); nothing was scored.",
    ]


def _route_paths(app) -> set[str]:
    """Every path the app answers, with the prefixes of included routers."""
    found: set[str] = set()

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if hasattr(route, "path"):
                found.add(prefix + route.path)
            elif hasattr(route, "original_router"):
                context = getattr(route, "include_context", None)
                walk(route.original_router.routes, prefix + (getattr(context, "prefix", "") or ""))
            elif hasattr(route, "routes"):
                walk(route.routes, prefix)

    walk(app.routes, "")
    return found


def test_every_page_address_in_the_documents_is_a_route(tmp_path):
    """Each address like `/jobs/ID/download` or `/portfolio/{id}/export.csv` that README.md or a
    page of docs/ names is one the app answers (ID, {id} and ... stand for any segment)."""
    from sqlalchemy import create_engine

    from app.web.main import create_app

    settings = Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path, PEERREADY_QUEUE="immediate")
    app = create_app(settings=settings, engine=create_engine(f"sqlite:///{tmp_path / 'unused.sqlite3'}"))
    routes = [re.sub(r"\{[^}]+\}", "{}", path) for path in _route_paths(app)]
    assert routes, "the app has no routes"
    not_pages = {"/data", "/usr/bin/chromium"}
    texts = [README] + [p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md"))]
    named = {p for text in texts for p in re.findall(r"`(/[A-Za-z0-9_.{}/-]*(?:\.\.\.)?)`", text)}
    assert "/admin/outbox" in named
    for address in sorted(named - not_pages):
        pattern = re.sub(r"(?<=/)(ID|\{[^}]+\}|\.\.\.)(?=/|\.|$)", "{}", address)
        matches = [r for r in routes if r == pattern or r.startswith(pattern.rstrip("/") + "/")]
        assert matches, f"{address} is named in the documents but is no route of the app"


_REDCAP_HEADER = "record_id,respondent_group,p1,p2,p3,t1,t2,t3,worked_example_complete\n"
_REDCAP_ROW = "leadership,5,4,1,4,5,4,2\n"
_REDCAP_FILES = {
    "no `record_id` or `respondent_group` column": "respondent_group,p1\nleadership,4\n",
    "a column that is not a dictionary field or a REDCap column": "record_id,respondent_group,colour\n"
    + "1,leadership,red\n",
    "a record not marked complete": _REDCAP_HEADER + f"1,{_REDCAP_ROW}2,{_REDCAP_ROW}3,{_REDCAP_ROW[:-2]}1\n",
    "a repeated or blank record id": _REDCAP_HEADER + "".join(f"{n},{_REDCAP_ROW}" for n in (1, 2, 3, 3)),
    "two boxes checked": "record_id,respondent_group,p1___1,p1___2,p1___3,p1___4,p1___5,p1___dk,p1___na\n"
    + "1,leadership,0,0,0,1,0,0,0\n2,leadership,0,0,0,1,1,0,0\n",
    "a value that is neither a code nor a label": "record_id,respondent_group,t2\n1,leadership,7\n",
}


def test_every_redcap_message_in_the_layout_is_what_import_responses_prints():
    """docs/csv-layout.md's REDCap table: each example line is what `peerready import-responses`
    prints (FILE:LINE: COLUMN: message) for such a file of the worked-example project."""
    from app.scoring.csv_responses import ResponsesCsvInvalid
    from app.scoring.redcap_responses import parse_redcap_export

    layout = (ROOT / "docs" / "csv-layout.md").read_text(encoding="utf-8")
    section = layout.split("## REDCap data exports", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (.+?) \| `(export\.csv:.+)` \|$", section, re.M))
    assert rows, "docs/csv-layout.md has no table of REDCap messages"
    instrument = _example_instrument(with_extras=False)
    for problem, message in rows.items():
        content = _REDCAP_FILES.get(problem)
        assert content is not None, f"tests/test_docs.py has no file for the REDCap check {problem!r}"
        try:
            parse_redcap_export(instrument, content)
        except ResponsesCsvInvalid as invalid:
            said = [f"export.csv:{e.row}: {e.column or '-'}: {e.message}" for e in invalid.errors]
        else:
            said = []
        assert message in said, (problem, said)
