"""`peerready backup` and `peerready restore` through the real command line: the whole demo moves
from the embedded SQLite file to PostgreSQL and back, and every refusal is one clear line with
exit status 1, never a traceback, leaving the target database untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from app.db import migrate
from app.db.engine import make_engine
from app.db.models import Organization
from tests.backup.conftest import all_rows, archive_tables, rewrite_archive, url_of
from tests.helpers.auth import make_cast

HEAD = migrate.head_revision()  # the schema revision a fresh backup records

ROOT = Path(__file__).resolve().parents[2]


def peerready(
    *args: str, data_dir: Path, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PEERREADY_", "SECRET_KEY", "DATABASE_URL"))
    }
    environment.update(
        {"PEERREADY_DATA_DIR": str(data_dir), "PEERREADY_ENV": "test", "PYTHONPATH": str(ROOT)}
    )
    if database_url:
        environment["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        cwd=data_dir.parent,
        env=environment,
        timeout=300,
    )


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    monkeypatch: pytest.MonkeyPatch, *args: str, data_dir: Path, database_url: str | None = None
) -> Outcome:
    """The `peerready` command in this process (click's runner; quicker than a new interpreter)."""
    from app.cli import cli

    monkeypatch.setenv("PEERREADY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("PEERREADY_ENV", "test")
    if database_url:
        monkeypatch.setenv("DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return Outcome(result.exit_code, result.stdout, result.stderr)


def assert_refused(result: subprocess.CompletedProcess[str] | Outcome, *expected: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for text in expected:
        assert text in lines[0]


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'peerready.sqlite3'}"


@pytest.mark.slow
def test_demo_moves_from_sqlite_to_postgresql_and_back_through_the_cli(tmp_path, empty_database):
    first = tmp_path / "first"
    assert peerready("demo", data_dir=first).returncode == 0

    made = peerready("backup", "--out", str(tmp_path / "from-sqlite.zip"), data_dir=first)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("Backed up ") and f"schema revision {HEAD}" in made.stdout

    postgres = empty_database("postgres")
    into_postgres = peerready(
        "restore", str(tmp_path / "from-sqlite.zip"), data_dir=first, database_url=postgres
    )
    assert into_postgres.returncode == 0, into_postgres.stderr
    assert "Restored " in into_postgres.stdout and "every table checked" in into_postgres.stdout
    assert "replacing" not in into_postgres.stdout

    again = peerready(
        "backup", "--out", str(tmp_path / "from-postgres.zip"), data_dir=first, database_url=postgres
    )
    assert again.returncode == 0, again.stderr
    second = tmp_path / "second"
    into_sqlite = peerready("restore", str(tmp_path / "from-postgres.zip"), data_dir=second)
    assert into_sqlite.returncode == 0, into_sqlite.stderr

    # The same content, table by table, in all three databases and both archives.
    engines = [make_engine(sqlite_url(first)), make_engine(postgres), make_engine(sqlite_url(second))]
    try:
        rows = [all_rows(engine) for engine in engines]
        assert rows[0] == rows[1] == rows[2]
        assert sum(len(r) for r in rows[0].values()) > 3000
    finally:
        for engine in engines:
            engine.dispose()
    sums = [
        {t["name"]: (t["rows"], t["sha256"]) for t in archive_tables(tmp_path / name)[0]["tables"]}
        for name in ("from-sqlite.zip", "from-postgres.zip")
    ]
    assert sums[0] == sums[1]


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(
    engine, db: Session, tmp_path, monkeypatch
):
    make_cast(db)
    url = url_of(engine)
    data_dir = tmp_path / "data"
    archive = tmp_path / "cast.zip"
    assert (
        run_cli(monkeypatch, "backup", "--out", str(archive), data_dir=data_dir, database_url=url).returncode
        == 0
    )
    backed_up = all_rows(engine)
    db.add(Organization(name="Added after the backup"))
    db.commit()
    db.close()
    changed = all_rows(engine)

    refused = run_cli(monkeypatch, "restore", str(archive), data_dir=data_dir, database_url=url)
    assert_refused(refused, "is not empty", "--force")
    assert all_rows(engine) == changed

    forced = run_cli(monkeypatch, "restore", str(archive), "--force", data_dir=data_dir, database_url=url)
    assert forced.returncode == 0, forced.stderr
    assert f"replacing {sum(len(r) for r in changed.values())} rows" in forced.stdout
    assert all_rows(engine) == backed_up


def _newer_schema(manifest: dict) -> None:
    manifest.update(schema_revision="0099_from_the_future", app_version="9.0.0")


def _newer_format(manifest: dict) -> None:
    manifest["format_version"] = 2


def _unknown_format(manifest: dict) -> None:
    manifest["format_version"] = "one"


def _table_left_out(manifest: dict) -> None:
    manifest["tables"] = [t for t in manifest["tables"] if t["name"] != "membership"]


def _flip_a_character(lines: list[bytes]) -> list[bytes]:
    return [lines[0].replace(b"@example.org", b"@example.com"), *lines[1:]]


DAMAGE = {
    "newer schema": (
        {"manifest": _newer_schema},
        ["comes from a newer version of PeerReady (9.0.0", "0099"],
    ),
    "newer format": ({"manifest": _newer_format}, ["backup format version 2", "upgrade PeerReady"]),
    "unknown format": ({"manifest": _unknown_format}, ["unknown backup format version"]),
    "changed row": (
        {"table": "user", "lines": _flip_a_character, "fix_checksum": False},
        ["is damaged: the checksum of table user does not match"],
    ),
    "missing table": (
        {"manifest": _table_left_out},
        [f"does not match schema revision {HEAD}", "membership"],
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_restore_refuses_an_archive_it_cannot_trust(cast_archive: Path, damage: str, tmp_path, monkeypatch):
    changes, expected = DAMAGE[damage]
    archive = rewrite_archive(cast_archive, tmp_path / "changed.zip", **changes)
    data_dir = tmp_path / "data"
    assert_refused(run_cli(monkeypatch, "restore", str(archive), data_dir=data_dir), *expected)
    assert not (data_dir / "peerready.sqlite3").exists()


def test_restore_refuses_files_that_are_not_backups(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    notes = tmp_path / "notes.zip"
    notes.write_text("not a zip at all")
    assert_refused(
        run_cli(monkeypatch, "restore", str(notes), data_dir=data_dir), "is not a PeerReady backup"
    )
    assert_refused(
        run_cli(monkeypatch, "restore", str(tmp_path / "missing.zip"), data_dir=data_dir), "There is no file"
    )
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as other:
        other.writestr("manifest.json", json.dumps({"format": "something-else"}))
    assert_refused(
        run_cli(monkeypatch, "restore", str(tmp_path / "other.zip"), data_dir=data_dir),
        "no valid manifest.json",
    )
    assert not (data_dir / "peerready.sqlite3").exists()


def test_truncated_or_bit_flipped_archives_are_refused(cast_archive: Path, tmp_path, monkeypatch):
    data = cast_archive.read_bytes()
    (tmp_path / "cut.zip").write_bytes(data[: len(data) // 2])
    result = run_cli(monkeypatch, "restore", str(tmp_path / "cut.zip"), data_dir=tmp_path / "data")
    assert_refused(result, "cut.zip is not a PeerReady backup, or it is damaged")

    with zipfile.ZipFile(cast_archive) as archive:
        member = archive.getinfo("tables/user.jsonl")
    flipped = bytearray(data)
    flipped[member.header_offset + 30 + len(member.filename) + member.compress_size // 2] ^= 0xFF
    (tmp_path / "flipped.zip").write_bytes(bytes(flipped))
    result = run_cli(monkeypatch, "restore", str(tmp_path / "flipped.zip"), data_dir=tmp_path / "data")
    assert_refused(result, "flipped.zip is damaged")
    assert not (tmp_path / "data" / "peerready.sqlite3").exists()


def test_backup_refuses_without_a_database(tmp_path, monkeypatch):
    result = run_cli(
        monkeypatch, "backup", "--out", str(tmp_path / "x.zip"), data_dir=tmp_path / "nothing-here"
    )
    assert_refused(result, "There is no database at")
    assert not (tmp_path / "x.zip").exists()
