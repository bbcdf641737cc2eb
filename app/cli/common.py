"""What every `peerready` command that touches the database needs first."""

from __future__ import annotations

from sqlalchemy.engine import Engine


def ready_engine() -> Engine:
    """The configured database, migrated to the latest schema. Invalid settings (for example the
    development SECRET_KEY in production) end the command with a clear message, not a traceback."""
    from app.config import load_settings_or_exit
    from app.db import migrate
    from app.db.engine import make_engine

    settings = load_settings_or_exit()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    migrate.upgrade(engine)
    return engine
