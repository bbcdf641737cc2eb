"""`peerready serve`, `peerready db upgrade` and `peerready demo`."""

from __future__ import annotations

import click
from sqlalchemy.engine import Engine

from app.config import Settings, load_settings_or_exit


def _migrate(engine: Engine, settings: Settings) -> None:
    """Migrate to the latest schema, then make the portfolio's stored per-site figures of any
    site that has none yet or whose figures no longer match its releases (after the migration
    that added them, every site with a release; afterwards usually none)."""
    from app.db import migrate
    from app.db.engine import session_scope
    from app.services import site_figures

    migrate.upgrade(engine)
    with session_scope(engine) as session:
        site_figures.ensure_fresh(session, portfolio_id=None, privacy_threshold=settings.privacy_threshold)


@click.command()
@click.option("--host", default=None, help="Address to listen on  [default: PEERREADY_HOST or 127.0.0.1]")
@click.option(
    "--port", default=None, type=click.IntRange(1, 65535), help="Port  [default: PEERREADY_PORT or 8000]"
)
@click.option("--reload", is_flag=True, help="Restart when the code changes (development only).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web server processes (uvicorn workers); for production on PostgreSQL.",
)
def serve(host: str | None, port: int | None, reload: bool, workers: int) -> None:
    """Run the web app. On SQLite (the default) the database is migrated first.

    With --workers N, N processes share the port; each builds the app from the same settings
    (environment and .env) and opens at most PEERREADY_DB_POOL_SIZE + PEERREADY_DB_MAX_OVERFLOW
    database connections. Sessions, limits and locks live in the database, so any process may
    answer any request."""
    import uvicorn

    from app.db.engine import engine_from_settings
    from app.web.main import create_app

    settings = load_settings_or_exit()
    engine = engine_from_settings(settings)
    if settings.is_sqlite:
        _migrate(engine, settings)
    host = host or settings.host
    port = port or settings.port
    click.echo(f"PeerReady on http://{host}:{port}  (database: {settings.sqlalchemy_url.split('@')[-1]})")
    if reload and workers > 1:
        raise click.UsageError("--reload runs one process; leave out --workers.")
    if reload:
        # The reloader imports the app afresh in a child process, which reads the same settings.
        uvicorn.run("app.web.main:create_app", factory=True, host=host, port=port, reload=True)
    elif workers > 1:
        # Each worker process imports the app afresh (an app object cannot be shared between
        # processes) and reads the same settings; the parent only supervises them.
        engine.dispose()
        click.echo(
            f"{workers} worker processes; each opens at most "
            f"{settings.db_pool_size + settings.db_max_overflow} database connections."
        )
        # The health-check timeout is raised from uvicorn's 5 s: importing the app (WeasyPrint,
        # the instruments) can take longer on a busy machine, and a slow start is not a dead worker.
        uvicorn.run(
            "app.web.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            timeout_worker_healthcheck=60,
        )
    else:
        uvicorn.run(create_app(settings=settings, engine=engine), host=host, port=port)


@click.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every database migration (safe to run again), then make the portfolio's stored
    per-site figures that are missing or out of date."""
    from app.db.engine import engine_from_settings

    settings = load_settings_or_exit()
    _migrate(engine_from_settings(settings), settings)
    click.echo("Database is up to date.")


@click.command()
def demo() -> None:
    """Load demo agencies, users, cycles, responses and plans (safe to run twice)."""
    from app.db.engine import engine_from_settings, session_scope
    from app.services import report_prepare
    from app.services.demo import load_demo

    settings = load_settings_or_exit()
    engine = engine_from_settings(settings)
    if settings.is_sqlite:
        _migrate(engine, settings)
    report_prepare.watch(engine, settings)  # the worker renders the demo's reports before the first click
    with session_scope(engine) as session:
        summary = load_demo(
            session, instruments_dir=settings.instruments_dir, privacy_threshold=settings.privacy_threshold
        )
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
