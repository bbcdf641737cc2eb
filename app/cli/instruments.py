"""`peerready validate`, `peerready schema` and `peerready translations`: instrument files from the
command line."""

import json
from pathlib import Path
from typing import NoReturn

import click

from app.instruments.catalog import check_paths, expand_paths, json_schema
from app.instruments.errors import InstrumentError, InstrumentInvalid
from app.instruments.translation_files import TranslationToolError, stamp, template
from app.instruments.translations import instrument_of_overlay, is_translation_overlay


@click.command()
@click.argument(
    "targets", metavar="PATH...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option("--strict", is_flag=True, help="Also exit 1 on warnings, such as stale translations.")
def validate(targets: tuple[Path, ...], strict: bool) -> None:
    """Check instrument files (or folders of them) with their translation files; exit 1 if any
    has errors (or, with --strict, warnings).

    Besides each file's own errors, two files of one folder with the same instrument id are an
    error (the rule "Start a cycle" and `peerready score` follow too)."""
    files, orphans = _instrument_files(targets)
    checks = check_paths(files)
    if not checks and not orphans:
        click.echo("No instrument files (*.yaml, *.yml) found.")
        raise SystemExit(1)
    invalid_files = error_count = len(orphans)
    warning_count = 0
    for orphan in orphans:
        click.echo(str(orphan))
    for check in checks:
        if check.errors or check.loaded is None:
            invalid_files += 1
            for error in check.errors:
                click.echo(str(error))
                warning_count += error.is_warning
                error_count += not error.is_warning
            continue
        loaded = check.loaded
        for warning in loaded.warnings:
            click.echo(str(warning))
        warning_count += len(loaded.warnings)
        languages = loaded.instrument.languages
        translated = f", translated into {', '.join(languages[1:])}" if len(languages) > 1 else ""
        click.echo(f"OK {check.path} ({loaded.instrument.id} {loaded.version_key}{translated})")
    checked = len(checks) + len(orphans)
    summary = f"{checked} file(s) checked: {checked - invalid_files} valid, {invalid_files} invalid"
    counts = [f"{error_count} errors"] if error_count else []
    counts += [f"{warning_count} warnings"] if warning_count else []
    click.echo(summary + (f" ({', '.join(counts)})" if counts else ""))
    raise SystemExit(1 if invalid_files or (strict and warning_count) else 0)


def _instrument_files(targets: tuple[Path, ...]) -> tuple[list[Path], list[InstrumentError]]:
    """Instrument files to check: a translation file named on its own stands for its instrument."""
    files: list[Path] = []
    orphans: list[InstrumentError] = []
    for path in expand_paths(targets):
        if is_translation_overlay(path):
            instrument = instrument_of_overlay(path)
            if instrument is None:
                message = f"translates {path.name.split('.')[0]}.yaml, which does not exist beside it"
                orphans.append(InstrumentError("translation-orphan", str(path), None, "", message))
                continue
            path = instrument
        if path not in files:
            files.append(path)
    return files, orphans


@click.command()
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout."
)
def schema(out: Path | None) -> None:
    """Print the JSON Schema of instrument files (for editor completion)."""
    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {out}", err=True)


@click.group()
def translations() -> None:
    """Tools for translation files (<name>.<language>.yaml beside an instrument)."""


@translations.command(name="template")
@click.argument("instrument", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lang", "language", required=True, help="Language code, e.g. es.")
def translations_template(instrument: Path, language: str) -> None:
    """Print the entries INSTRUMENT's translation file still lacks, each with its source text as a
    comment and an empty text to fill in (append them to the file)."""
    try:
        text = template(instrument, language)
    except (InstrumentInvalid, TranslationToolError) as problem:
        _fail(problem)
    if not text:
        click.echo(f"Nothing to add: every text of {instrument} has a '{language}' entry.", err=True)
        return
    click.echo(text, nl=False)


@translations.command(name="stamp")
@click.argument(
    "translation_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--path", "keys", multiple=True, metavar="KEY", help="Stamp only this entry (repeatable); default: all."
)
def translations_stamp(translation_file: Path, keys: tuple[str, ...]) -> None:
    """Record that FILE's translations (or the --path entries) match the current source texts:
    run it after checking each stale translation against the changed text."""
    try:
        result = stamp(translation_file, keys)
    except (InstrumentInvalid, TranslationToolError) as problem:
        _fail(problem)
    for refused in result.problems:
        click.echo(f"{translation_file}: {refused}", err=True)
    if result.problems:
        click.echo("Nothing was changed.", err=True)
        raise SystemExit(1)
    for skipped in result.skipped:
        click.echo(f"skipped {skipped}", err=True)
    if result.changed:
        translation_file.write_text(result.text, encoding="utf-8")
    for key in result.stamped:
        click.echo(f"stamped {key}")
    entries = "entry" if len(result.stamped) == 1 else "entries"
    click.echo(f"{len(result.stamped)} {entries} stamped in {translation_file}")


def _fail(problem: Exception) -> NoReturn:
    if isinstance(problem, InstrumentInvalid):
        for error in problem.errors:
            click.echo(str(error), err=True)
    else:
        click.echo(str(problem), err=True)
    raise SystemExit(1)


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(validate)
    cli.add_command(schema)
    cli.add_command(translations)
