"""What every `peerready` command that touches the database needs first."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from app.config import Settings


def ready_engine(settings: Settings) -> Engine:
    """The configured database, migrated to the latest schema."""
    from app.db import migrate
    from app.db.engine import engine_from_settings

    engine = engine_from_settings(settings)
    migrate.upgrade(engine)
    return engine
