"""Engine and sessions. SQLite gets WAL mode and foreign keys; PostgreSQL a bounded pool.

The engine is made from the settings once per process (`engine_from_settings`): by
`create_app` (kept on `app.state.engine`) or by a `peerready` command.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout  # noqa: F401  (for the web's error handler)
from sqlmodel import Session, create_engine

from app.config import Settings

# Set by `sqlite_without_waiting`: connections checked out meanwhile do not wait for a lock.
_NO_WAIT: ContextVar[bool] = ContextVar("peerready_sqlite_no_wait", default=False)
_BUSY_TIMEOUT_KEY = "peerready_busy_timeout_ms"
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


@contextmanager
def sqlite_without_waiting() -> Iterator[None]:
    """Within this block, a SQLite connection checked out of the pool does not wait for another
    writer's lock (busy timeout 0): the statement fails at once with "database is locked", which
    `is_sqlite_busy` recognizes. For work on the event loop, where waiting would stop every other
    request, among them perhaps the one holding the lock (app/web/deps.py). Elsewhere (and on
    PostgreSQL) nothing changes."""
    token = _NO_WAIT.set(True)
    try:
        yield
    finally:
        _NO_WAIT.reset(token)


def is_sqlite_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's "database is locked" (another connection holds the lock)."""
    orig = exc.orig if isinstance(exc, OperationalError) else None
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return "database is locked" in str(orig)


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

        busy_ms = int(sqlite_busy_timeout * 1000)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            record.info[_BUSY_TIMEOUT_KEY] = busy_ms  # what `timeout` set

        @event.listens_for(engine, "checkout")
        def _sqlite_wait(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            # The busy timeout this checkout wants (see sqlite_without_waiting); set only when
            # it changes, so most checkouts send nothing.
            wanted = 0 if _NO_WAIT.get() else busy_ms
            if record.info.get(_BUSY_TIMEOUT_KEY) != wanted:
                dbapi_connection.execute(f"PRAGMA busy_timeout = {wanted:d}")
                record.info[_BUSY_TIMEOUT_KEY] = wanted

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
