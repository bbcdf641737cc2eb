"""Shared fixtures: a real SQLite file and a real PostgreSQL database per test run.

Tests that take the `engine`, `app` or `client` fixture run once per backend. PostgreSQL is at
127.0.0.1:5432 (user postgres, trust auth); a throwaway database is created for the run and
dropped after it. Without PostgreSQL those tests skip with a reason, unless
PEERREADY_REQUIRE_POSTGRES=1 (set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import app.db.tables  # noqa: F401  (every table, for emptying them all)
from app.config import Settings, environment_names
from app.db import migrate
from app.db.engine import make_engine
from app.services import report_prepare

# Browser fixtures (live server, Chromium) are shared by every test directory.
pytest_plugins = ["tests.helpers.browser"]

PG_ADMIN_URL = os.environ.get(
    "PEERREADY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("PEERREADY_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgres"]


def _postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = make_engine(PG_ADMIN_URL)
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any connection failure means "not available here"
        return f"PostgreSQL is not reachable at {PG_ADMIN_URL.split('@')[-1]}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    reason = _postgres_available()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason} (PEERREADY_REQUIRE_POSTGRES=1, so PostgreSQL tests may not skip)")
        pytest.skip(reason)
    name = f"peerready_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Engine]:
    return {}


def _migrated_engine(backend: str, request: pytest.FixtureRequest, cache: dict[str, Engine]) -> Engine:
    if backend not in cache:
        if backend == "sqlite":
            path = request.getfixturevalue("tmp_path_factory").mktemp("sqlite") / "peerready-test.sqlite3"
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        migrate.upgrade(engine)
        cache[backend] = engine
    return cache[backend]


def _empty_all_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{t}"' for t in tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f'DELETE FROM "{table}"'))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest, _engines: dict[str, Engine]) -> Iterator[Engine]:
    """A migrated database on the current backend, emptied after each test."""
    engine = _migrated_engine(backend, request, _engines)
    try:
        yield engine
    finally:
        # The engine outlives the test: an app made in it must not prepare reports in the next.
        report_prepare.unwatch(engine)
        _empty_all_tables(engine)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session", autouse=True)
def _settings_only_from_tests() -> Iterator[None]:
    """Every test builds its own Settings: none comes from the developer's environment or `.env`
    (a PEERREADY_PRIVACY_THRESHOLD=5 in the shell must not change what the tests see). Session
    scope, so that session fixtures such as the live server are covered too; tests that are about
    the environment set it themselves with monkeypatch."""
    with pytest.MonkeyPatch.context() as patch:
        for names in environment_names().values():
            for name in names:
                patch.delenv(name, raising=False)
        patch.setitem(Settings.model_config, "env_file", None)
        yield


@pytest.fixture
def settings(tmp_path) -> Settings:
    # The immediate queue: a job (say, the report PDF a download asks for) runs inside the request
    # that starts it, so tests need no worker. Tests of the real queue build their own settings.
    return Settings(PEERREADY_ENV="test", PEERREADY_DATA_DIR=tmp_path / "data", PEERREADY_QUEUE="immediate")


@pytest.fixture
def app(settings: Settings, engine: Engine):
    from app.web.main import create_app

    return create_app(settings=settings, engine=engine)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client
