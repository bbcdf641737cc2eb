"""`peerready backup` and `peerready restore`: the whole database in one portable archive
(app/db/backup.py), also the way to move from the embedded SQLite file to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from app.config import load_settings_or_exit
from app.errors import PeerReadyError


@click.command("backup")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Archive file to write (a .zip; replaced when it exists).",
)
def backup_command(out: Path) -> None:
    """Write every table of the database to one archive, consistent even while the app serves."""
    from app.db import backup

    settings = load_settings_or_exit()
    try:
        summary = backup.backup(settings, out)
    except PeerReadyError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"Backed up {summary.total_rows} rows in {len(summary.tables)} tables "
        f"(schema revision {summary.schema_revision}) to {summary.path}."
    )


@click.command("restore")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace everything in a database that is not empty.")
def restore_command(archive: Path, force: bool) -> None:
    """Restore an archive into the configured database (DATABASE_URL or the SQLite file), which must
    be empty unless --force. All or nothing: on any problem the database is left as it was."""
    from app.db import backup

    settings = load_settings_or_exit()
    try:
        summary = backup.restore(settings, archive, force=force)
    except PeerReadyError as exc:
        raise click.ClickException(exc.message) from None
    replaced = f", replacing {summary.replaced_rows} rows" if summary.replaced_rows else ""
    click.echo(
        f"Restored {summary.total_rows} rows in {len(summary.tables)} tables into {summary.database}"
        f"{replaced}; schema revision {summary.schema_revision}, every table checked against the archive."
    )


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(backup_command)
    cli.add_command(restore_command)
