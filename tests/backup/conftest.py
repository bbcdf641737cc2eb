"""Backup fixtures: empty target databases (a new SQLite file, a new PostgreSQL database), settings
that point at a database, and helpers that compare two databases table by table."""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import app.db.tables  # noqa: F401  (every table)
from app.config import Settings
from app.db.engine import make_engine
from tests.conftest import PG_ADMIN_URL


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        PEERREADY_ENV="test", PEERREADY_DATA_DIR=data_dir, DATABASE_URL=url, PEERREADY_QUEUE="immediate"
    )


@pytest.fixture
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """`empty_database("sqlite")` or `("postgres")`: the URL of a database nobody has touched yet
    (a SQLite file that does not exist, a PostgreSQL database just created; dropped afterwards)."""
    created: list[str] = []
    admin = None

    def make(kind: str) -> str:
        nonlocal admin
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f'restored-{secrets.token_hex(3)}' / 'peerready.sqlite3'}"
        request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
        name = f"peerready_restore_{secrets.token_hex(5)}"
        admin = admin or make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    yield make
    if admin is not None:
        with admin.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def all_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as the app's own column types read them, in primary-key order."""
    rows = {}
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            rows[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return rows


def archive_tables(path: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The manifest and the decoded JSON lines of every table of an archive."""
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        tables = {
            entry["name"]: [json.loads(line) for line in archive.read(entry["file"]).splitlines()]
            for entry in manifest["tables"]
        }
    return manifest, tables


def rewrite_archive(
    source: Path,
    target: Path,
    *,
    manifest: Callable[[dict[str, Any]], None] | None = None,
    table: str | None = None,
    lines: Callable[[list[bytes]], list[bytes]] | None = None,
    fix_checksum: bool = True,
) -> Path:
    """A copy of an archive with one table's lines and/or the manifest changed (checksums and
    counts recomputed unless `fix_checksum` is False: a damaged archive)."""
    import hashlib

    with zipfile.ZipFile(source) as original:
        data = {name: original.read(name) for name in original.namelist()}
    content = json.loads(data["manifest.json"])
    if table is not None and lines is not None:
        entry = next(e for e in content["tables"] if e["name"] == table)
        new_lines = lines(data[entry["file"]].splitlines(keepends=True))
        data[entry["file"]] = b"".join(new_lines)
        if fix_checksum:
            entry["rows"] = len(new_lines)
            entry["sha256"] = hashlib.sha256(data[entry["file"]]).hexdigest()
    if manifest is not None:
        manifest(content)
    data["manifest.json"] = json.dumps(content).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in data.items():
            archive.writestr(name, body)
    target.write_bytes(buffer.getvalue())
    return target


@pytest.fixture(scope="session")
def cast_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archive of a small database: two agencies, two portfolios, one user per role (made once:
    tests only read it or copy it)."""
    from sqlmodel import Session

    from app.db import backup, migrate
    from tests.helpers.auth import make_cast

    folder = tmp_path_factory.mktemp("cast-archive")
    url = f"sqlite:///{folder / 'data' / 'peerready.sqlite3'}"
    (folder / "data").mkdir()
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        make_cast(session)
    engine.dispose()
    return backup.backup(settings_for(url, folder / "data"), folder / "cast.zip").path
