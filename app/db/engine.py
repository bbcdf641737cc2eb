"""Engine and sessions. SQLite gets WAL mode and foreign keys; PostgreSQL a bounded pool.

The engine is made from the settings once per process (`engine_from_settings`): by
`create_app` (kept on `app.state.engine`) or by a `peerready` command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout  # noqa: F401  (for the web's error handler)
from sqlmodel import Session, create_engine

from app.config import Settings


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 5,
    pool_timeout: float = 30,
    sqlite_busy_timeout: float = 30,
) -> Engine:
    """An engine for `url`; the pool sizes apply to PostgreSQL only (see PEERREADY_DB_POOL_SIZE).
    `pool_timeout`: seconds a request waits for a free connection before the app answers 503;
    `sqlite_busy_timeout`: seconds a SQLite writer waits for the database's write lock."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout},
            pool_timeout=pool_timeout,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout
    )


def engine_from_settings(settings: Settings) -> Engine:
    """The configured database (the SQLite default creates its data folder first)."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(
        settings.sqlalchemy_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error (never half a save)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
