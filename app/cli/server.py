"""`peerready serve`, `peerready db upgrade` and `peerready demo`."""

from __future__ import annotations

import click

from app.config import load_settings_or_exit


def _migrate() -> None:
    from app.db import migrate
    from app.db.engine import get_engine

    migrate.upgrade(get_engine())


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--reload", is_flag=True, help="Restart when the code changes (development only).")
def serve(host: str, port: int, reload: bool) -> None:
    """Run the web app. On SQLite (the default) the database is migrated first."""
    import uvicorn

    settings = load_settings_or_exit()
    if settings.is_sqlite:
        _migrate()
    click.echo(f"PeerReady on http://{host}:{port}  (database: {settings.sqlalchemy_url.split('@')[-1]})")
    uvicorn.run("app.web.main:create_app", factory=True, host=host, port=port, reload=reload)


@click.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every database migration (safe to run again)."""
    load_settings_or_exit()
    _migrate()
    click.echo("Database is up to date.")


@click.command()
def demo() -> None:
    """Load demo agencies, users, cycles, responses and plans (safe to run twice)."""
    from app.db.engine import get_engine, session_scope
    from app.demo import load_demo

    settings = load_settings_or_exit()
    if settings.is_sqlite:
        _migrate()
    with session_scope(get_engine()) as session:
        summary = load_demo(session)
    if summary.created:
        click.echo(
            f"Demo loaded: {summary.organizations} agencies, {summary.assessments} assessment cycles, "
            f"{summary.responses} responses."
        )
    else:
        click.echo("The demo is already loaded; nothing was changed.")
    click.echo(
        f"\nOpen {settings.base_url} and sign in with one of these (password for all: {summary.password}):"
    )
    for role, email, sees in summary.logins:
        click.echo(f"  {role:<11} {email:<40} {sees}")


def register(cli: click.Group) -> None:
    """Add this module's commands to the `peerready` group."""
    cli.add_command(serve)
    cli.add_command(db)
    cli.add_command(demo)
