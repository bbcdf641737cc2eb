"""Every `--lang` of the command line refuses a language it cannot write in the same way: a
usage error (exit 2) on one line that names the languages there are. An unknown code used to be
accepted by `peerready score` (and the exports) and silently fell back to English."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.paths import INSTRUMENTS_DIR

INSTRUMENT = "quick_check"  # shipped in English and Spanish
EXPECTED = "Error: Invalid value for '--lang': 'xx' is not one of 'en', 'es'"


def error_line(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith("Error:")]
    return line


@pytest.fixture
def responses(tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text("respondent_id,group\n", encoding="utf-8")
    return path


def test_score_refuses_an_unknown_language_naming_the_instruments(responses):
    result = CliRunner().invoke(cli, ["score", "--instrument", INSTRUMENT, str(responses), "--lang", "xx"])
    assert result.exit_code == 2
    assert error_line(result.output) == f"{EXPECTED} (the languages of instrument {INSTRUMENT})."
    assert "Traceback" not in result.output


def test_score_refuses_a_language_the_instrument_lacks(tmp_path, responses):
    english_only = tmp_path / "english.yaml"
    text = (INSTRUMENTS_DIR / "quick-check.yaml").read_text(encoding="utf-8")
    english_only.write_text(text.replace("languages: [en, es]", "languages: [en]"), encoding="utf-8")
    assert "languages: [en]" in english_only.read_text(encoding="utf-8")
    args = ["score", "--instrument", str(english_only), str(responses), "--lang", "es"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert error_line(result.output) == (
        "Error: Invalid value for '--lang': 'es' is not one of 'en'"
        " (the languages of instrument quick_check)."
    )


def test_score_default_and_known_languages_still_score(responses):
    for extra in ([], ["--lang", "es"], ["--lang", "en"]):
        result = CliRunner().invoke(cli, ["score", "--instrument", INSTRUMENT, str(responses), *extra])
        # an empty file scores nothing, but the language passed the check
        assert "Invalid value for '--lang'" not in result.output, extra


@pytest.mark.parametrize(
    ("args", "suffix"),
    [
        (["report", "1", "--lang", "xx"], "."),
        (["invite", "1", "--group", "peer_staff", "--email", "a@example.org", "--lang", "xx"], "."),
        (["export", "redcap", INSTRUMENT, "--lang", "xx"], f" (the languages of instrument {INSTRUMENT})."),
        (["export", "fhir", INSTRUMENT, "--lang", "xx"], f" (the languages of instrument {INSTRUMENT})."),
        (
            ["export", "fhir", INSTRUMENT, "--responses", "1", "--lang", "xx"],
            f" (the languages of instrument {INSTRUMENT}).",
        ),
    ],
)
def test_every_lang_option_refuses_the_same_way(args, suffix):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert error_line(result.output) == EXPECTED + suffix
