"""`peerready validate` and `peerready schema`: checking instrument files from the command line."""

import json
from pathlib import Path

import click

from app.instruments.catalog import check_paths, json_schema


@click.command()
@click.argument(
    "targets", metavar="PATH...", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
def validate(targets: tuple[Path, ...]) -> None:
    """Check instrument files (or folders of them); exit 1 if any has errors.

    Besides each file's own errors, two files of one folder with the same instrument id are an
    error (the rule "Start a cycle" and `peerready score` follow too)."""
    checks = check_paths(targets)
    if not checks:
        click.echo("No instrument files (*.yaml, *.yml) found.")
        raise SystemExit(1)
    invalid_files = error_count = 0
    for check in checks:
        if check.errors or check.loaded is None:
            invalid_files += 1
            error_count += len(check.errors)
            for error in check.errors:
                click.echo(str(error))
            continue
        click.echo(f"OK {check.path} ({check.loaded.instrument.id} {check.loaded.version_key})")
    valid_files = len(checks) - invalid_files
    summary = f"{len(checks)} file(s) checked: {valid_files} valid, {invalid_files} invalid"
    click.echo(summary + (f" ({error_count} errors)" if error_count else ""))
    raise SystemExit(1 if invalid_files else 0)


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


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(validate)
    cli.add_command(schema)
