"""`peerready validate` on translations, `peerready translations stamp` and `... template`, through
click and, for the shipped instruments, as a real process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from instrument_samples import line_of
from translation_samples import BILINGUAL_INSTRUMENT, SPANISH, spanish_overlay, write_pair

from app.cli import cli
from app.instruments.loader import load_instrument_file
from app.instruments.models import text
from app.instruments.translations import source_hash
from app.paths import INSTRUMENTS_DIR

REPOSITORY = Path(__file__).resolve().parents[2]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def make_stale(path: Path) -> None:
    path.write_text(
        path.read_text().replace("text: Leaders value peer specialists.", "text: Leaders value peers.")
    )


# --- validate ---------------------------------------------------------------------------------


def test_validate_prints_a_stale_translation_and_still_passes(tmp_path):
    path = write_pair(tmp_path)
    make_stale(path)
    result = run("validate", str(tmp_path))
    assert result.exit_code == 0, result.output
    overlay = tmp_path / "mini.es.yaml"
    line = line_of(overlay.read_text(), "items.values_peers.text:")
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{overlay}:{line}: items.values_peers.text: warning: the en text changed")
    assert lines[0].endswith("[translation-stale]")
    assert lines[1].startswith(f"OK {path} (mini 1.0+") and lines[1].endswith(", translated into es)")
    assert lines[-1] == "1 file(s) checked: 1 valid, 0 invalid (1 warnings)"


def test_validate_strict_fails_on_a_stale_translation(tmp_path):
    path = write_pair(tmp_path)
    assert run("validate", "--strict", str(path)).exit_code == 0
    make_stale(path)
    result = run("validate", "--strict", str(path))
    assert result.exit_code == 1
    assert "[translation-stale]" in result.output


def test_validate_counts_errors_and_warnings_of_an_invalid_file(tmp_path):
    path = write_pair(tmp_path, overlay=spanish_overlay(skip=("title",)))
    make_stale(path)
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert "[translation-missing]" in result.output and "[translation-stale]" in result.output
    assert result.output.splitlines()[-1] == "1 file(s) checked: 0 valid, 1 invalid (1 errors, 1 warnings)"


def test_validate_given_a_translation_file_checks_its_instrument(tmp_path):
    path = write_pair(tmp_path)
    result = run("validate", str(tmp_path / "mini.es.yaml"), str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "1 file(s) checked: 1 valid, 0 invalid"


def test_validate_reports_a_translation_file_without_its_instrument(tmp_path):
    orphan = tmp_path / "gone.es.yaml"
    orphan.write_text(spanish_overlay())
    result = run("validate", str(orphan))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        f"{orphan}: translates gone.yaml, which does not exist beside it [translation-orphan]"
    )


def test_the_shipped_instruments_validate_strictly_as_a_process():
    result = subprocess.run(
        [sys.executable, "-m", "app", "validate", "--strict", str(INSTRUMENTS_DIR)],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stdout
    assert result.stdout.count(", translated into es)") == 2


def test_a_deliberately_stale_shipped_item_is_reported_with_its_line(tmp_path):
    """The issue's check: edit one English item of the shipped full instrument and `peerready
    validate` (a real process) names the Spanish entry that is now stale, on its line; stamping it
    after review clears the warning and changes exactly that line."""
    folder = tmp_path / "instruments"
    shutil.copytree(INSTRUMENTS_DIR, folder)
    english = folder / "readiness-full.yaml"
    overlay = folder / "readiness-full.es.yaml"
    old = "text: Our agency has a clear purpose for its parent peer program."
    new = "text: Our agency has a clear, written purpose for its parent peer program."
    assert english.read_text().count(old) == 1
    english.write_text(english.read_text().replace(old, new))

    def validate(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", "validate", *options, str(folder)],
            capture_output=True,
            text=True,
            cwd=REPOSITORY,
            timeout=300,
        )

    result = validate()
    assert result.returncode == 0, result.stdout + result.stderr
    line = line_of(overlay.read_text(), "items.purpose_clear_goal.text:")
    stale = [row for row in result.stdout.splitlines() if "[translation-stale]" in row]
    assert len(stale) == 1
    assert stale[0].startswith(
        f"{overlay}:{line}: items.purpose_clear_goal.text: warning: the en text changed"
    )
    assert source_hash(new.removeprefix("text: ")) in stale[0]
    assert validate("--strict").returncode == 1

    before = overlay.read_text().splitlines()
    stamped = run("translations", "stamp", str(overlay), "--path", "items.purpose_clear_goal.text")
    assert stamped.exit_code == 0, stamped.output
    after = overlay.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [(before[line + 1], f'  source_hash: "{source_hash(new.removeprefix("text: "))}"')]
    assert validate("--strict").returncode == 0


# --- stamp ------------------------------------------------------------------------------------


def test_stamp_updates_only_the_hash_lines_it_is_asked_to(tmp_path):
    path = write_pair(tmp_path)
    make_stale(path)
    path.write_text(path.read_text().replace("title: Mini readiness check", "title: Mini check"))
    overlay = tmp_path / "mini.es.yaml"
    before = overlay.read_text()
    result = run("translations", "stamp", str(overlay), "--path", "title")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["stamped title", f"1 entry stamped in {overlay}"]
    assert overlay.read_text() == before.replace(
        f'"{source_hash("Mini readiness check")}"', f'"{source_hash("Mini check")}"', 1
    )
    assert [w.path for w in load_instrument_file(path).warnings] == ["items.values_peers.text"]
    # Without --path: every entry whose hash differs.
    result = run("translations", "stamp", str(overlay))
    assert result.output.splitlines() == ["stamped items.values_peers.text", f"1 entry stamped in {overlay}"]
    assert load_instrument_file(path).warnings == ()
    assert run("translations", "stamp", str(overlay)).output.splitlines() == [
        f"0 entries stamped in {overlay}"
    ]


def test_stamp_adds_a_missing_hash_under_the_entrys_text(tmp_path):
    overlay_text = spanish_overlay()
    digest = source_hash("Leaders")
    overlay_text = overlay_text.replace(f'  source_hash: "{digest}"\n', "", 1)
    path = write_pair(tmp_path, overlay=overlay_text)
    overlay = tmp_path / "mini.es.yaml"
    result = run("translations", "stamp", str(overlay))
    assert result.exit_code == 0, result.output
    assert overlay.read_text() == spanish_overlay()
    assert load_instrument_file(path).warnings == ()


def test_stamp_refuses_unknown_entries_and_changes_nothing(tmp_path):
    path = write_pair(tmp_path)
    make_stale(path)
    overlay = tmp_path / "mini.es.yaml"
    before = overlay.read_text()
    result = run(
        "translations",
        "stamp",
        str(overlay),
        "--path",
        "items.values_peers.text",
        "--path",
        "items.nope.text",
    )
    assert result.exit_code == 1
    assert f"{overlay}: items.nope.text: not in mini.es.yaml" in result.output
    assert "Nothing was changed." in result.output
    assert overlay.read_text() == before


def test_stamp_needs_a_translation_file_beside_its_instrument(tmp_path):
    (tmp_path / "mini.yaml").write_text(BILINGUAL_INSTRUMENT)
    result = run("translations", "stamp", str(tmp_path / "mini.yaml"))
    assert result.exit_code == 1
    assert "is not named like a translation file" in result.output
    orphan = tmp_path / "gone.es.yaml"
    orphan.write_text(spanish_overlay())
    result = run("translations", "stamp", str(orphan))
    assert result.exit_code == 1 and "gone.yaml, which does not exist" in result.output


# --- template ---------------------------------------------------------------------------------


def test_template_prints_the_missing_entries_ready_to_fill_in(tmp_path):
    skipped = ("items.values_peers.text", "actions.fund_roles.steps[0]")
    path = write_pair(tmp_path, overlay=spanish_overlay(skip=skipped))
    result = run("translations", "template", str(path), "--lang", "es")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "# --- items ---\n"
        "# en: Leaders value peer specialists.\n"
        "items.values_peers.text:\n"
        "  text: ''\n"
        f'  source_hash: "{source_hash("Leaders value peer specialists.")}"\n'
        "# --- actions ---\n"
        "# en: Add a budget line.\n"
        "actions.fund_roles.steps[0]:\n"
        "  text: ''\n"
        f'  source_hash: "{source_hash("Add a budget line.")}"\n'
    )
    # Appended and filled in, the file is complete.
    overlay = tmp_path / "mini.es.yaml"
    filled = result.output.replace("  text: ''", f"  text: {SPANISH['items.values_peers.text']}", 1)
    filled = filled.replace("  text: ''", f"  text: {SPANISH['actions.fund_roles.steps[0]']}", 1)
    overlay.write_text(overlay.read_text() + filled)
    loaded = load_instrument_file(path)
    assert loaded.warnings == ()
    assert text(loaded.instrument.items[1].text, "es") == SPANISH["items.values_peers.text"]


def test_template_for_a_new_language_starts_the_file(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(BILINGUAL_INSTRUMENT)
    result = run("translations", "template", str(path), "--lang", "es")
    assert result.exit_code == 0
    assert result.output.startswith("# The 'es' translation of mini.yaml, one entry per text")
    assert result.output.count("  text: ''\n") == len(SPANISH)
    assert run("translations", "template", str(path), "--lang", "fr").exit_code == 1
    # `template ... > mini.es.yaml` makes the empty file before the command runs: still a new file.
    (tmp_path / "mini.es.yaml").write_text("")
    assert run("translations", "template", str(path), "--lang", "es").output == result.output


def test_template_says_when_nothing_is_missing(tmp_path):
    path = write_pair(tmp_path)
    result = run("translations", "template", str(path), "--lang", "es")
    assert result.exit_code == 0
    assert "Nothing to add" in result.output
