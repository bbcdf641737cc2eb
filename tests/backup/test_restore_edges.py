"""Restore is all or nothing, on SQLite and PostgreSQL: an archive whose rows the database refuses
leaves a new database as it was and a forced restore leaves the old data in place. Also: rows that
point at later rows of their own table, values of every kind, and schema revisions nobody knows."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, SQLModel, select

from app.db import backup, migrate
from app.db.engine import make_engine
from app.db.models import Assessment, Organization, Role
from tests.backup.conftest import all_rows, rewrite_archive, settings_for, url_of
from tests.helpers.auth import make_cast
from tests.web.journey import start_cycle

HEAD = migrate.head_revision()  # the schema revision a fresh backup records


def _dangling_membership(lines: list[bytes]) -> list[bytes]:
    row = json.loads(lines[-1])
    row["user_id"] = 999_999
    return [*lines[:-1], json.dumps(row).encode() + b"\n"]


def _tables(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_rows_the_database_refuses_leave_a_new_database_untouched(
    cast_archive: Path, target: str, empty_database, tmp_path
):
    archive = rewrite_archive(
        cast_archive, tmp_path / "dangling.zip", table="membership", lines=_dangling_membership
    )
    url = empty_database(target)
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(settings_for(url, tmp_path / "data"), archive)
    message = refused.value.message
    assert "Restore failed at table membership, nothing was changed" in message and "\n" not in message
    if target == "sqlite":
        assert not Path(sa.make_url(url).database).exists()  # the file a failed restore made is gone
    else:
        assert _tables(url) == []  # even the migrations were rolled back


def test_a_forced_restore_that_fails_keeps_the_old_data(cast_archive: Path, engine, db: Session, tmp_path):
    make_cast(db)
    before = all_rows(engine)
    archive = rewrite_archive(
        cast_archive, tmp_path / "dangling.zip", table="membership", lines=_dangling_membership
    )
    with pytest.raises(backup.BackupError, match="nothing was changed"):
        backup.restore(settings_for(url_of(engine), tmp_path / "data"), archive, force=True)
    assert all_rows(engine) == before


def test_text_postgresql_cannot_store_is_a_clear_refusal(empty_database, tmp_path):
    """SQLite stores a NUL character; PostgreSQL refuses it. Moving such a row is refused cleanly."""
    source = empty_database("sqlite")
    Path(sa.make_url(source).database).parent.mkdir(parents=True)
    engine = make_engine(source)
    migrate.upgrade(engine)
    with Session(engine) as session:
        session.add(Organization(name="Nul\x00 Agency"))
        session.commit()
    engine.dispose()
    archive = backup.backup(settings_for(source, tmp_path / "data"), tmp_path / "nul.zip").path
    target = empty_database("postgres")
    with pytest.raises(backup.BackupError) as refused:
        backup.restore(settings_for(target, tmp_path / "data"), archive)
    assert refused.value.message.startswith("Restore failed at table organization, nothing was changed: ")
    assert "NUL" in refused.value.message and _tables(target) == []


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_rows_pointing_at_later_rows_of_their_own_table_restore(
    engine, db: Session, target, empty_database, tmp_path
):
    cast = make_cast(db)
    first = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, name="First", previous=None)
    second = start_cycle(db, user=cast.lead_a, organization_id=cast.org_a.id, name="Second", previous=None)
    first.previous_assessment_id = second.id  # a reference forward, to a row inserted after it
    db.add(first)
    db.commit()
    archive = backup.backup(settings_for(url_of(engine), tmp_path / "data"), tmp_path / "forward.zip").path
    url = empty_database(target)
    backup.restore(settings_for(url, tmp_path / "data"), archive)
    copy = make_engine(url)
    try:
        assert all_rows(copy) == all_rows(engine)
        with Session(copy) as session:
            assert session.get(Assessment, first.id).previous_assessment_id == second.id
    finally:
        copy.dispose()


def test_a_database_already_migrated_but_empty_takes_the_restore(cast_archive: Path, engine, tmp_path):
    """Someone ran `peerready db upgrade` on the new database first: it has tables, no rows."""
    restored = backup.restore(settings_for(url_of(engine), tmp_path / "data"), cast_archive)
    assert restored.replaced_rows == 0 and restored.total_rows == 19
    with Session(engine) as session:
        assert len(session.exec(select(Organization)).all()) == 2


def test_a_backup_never_overwrites_the_database_itself(cast_archive: Path, tmp_path):
    data_dir = tmp_path / "data"
    settings = settings_for(f"sqlite:///{data_dir / 'peerready.sqlite3'}", data_dir)
    backup.restore(settings, cast_archive)
    database = data_dir / "peerready.sqlite3"
    with pytest.raises(backup.BackupError, match="is the database itself"):
        backup.backup(settings, database)
    assert database.read_bytes().startswith(b"SQLite format 3")
    assert backup.backup(settings, data_dir / "beside-it.zip").total_rows == 19


def test_revisions_this_version_does_not_know_are_refused(engine, db: Session, tmp_path):
    make_cast(db)
    settings = settings_for(url_of(engine), tmp_path / "data")
    archive = backup.backup(settings, tmp_path / "cast.zip").path
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099_future'"))
    try:
        with pytest.raises(backup.BackupError, match="schema revision 0099_future, which this version"):
            backup.backup(settings, tmp_path / "again.zip")
        assert not (tmp_path / "again.zip").exists()
        with pytest.raises(backup.RestoreRefused, match="0099_future, which this version of PeerReady"):
            backup.restore(settings, archive, force=True)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = :head"), {"head": HEAD})


def test_tables_with_text_keys_are_written_in_the_same_order_on_every_database(tmp_path):
    """Integer keys sort alike everywhere; text keys follow each database's collation, so they are
    sorted by the backup itself."""
    table = sa.Table(
        "keyed", sa.MetaData(), sa.Column("code", sa.String, primary_key=True), sa.Column("n", sa.Integer)
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'keyed.sqlite3'}")
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            table.insert(), [{"code": c, "n": i} for i, c in enumerate(["b", "a", "Z", "é", "a0"])]
        )
        lines = list(
            backup._ordered_lines(
                connection, table, names=["code", "n"], kinds=["str", "int"], primary_key=["code"]
            )
        )
    engine.dispose()
    assert [json.loads(line)["code"] for line in lines] == ["Z", "a", "a0", "b", "é"]


def test_every_column_of_the_models_has_a_kind_the_archive_can_store():
    kinds = {
        f"{table.name}.{column.name}": backup.column_kind(column.type)
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
    }
    assert kinds["user.created_at"] == "datetime" and kinds["user.role"] == "enum"
    assert kinds["user.is_active"] == "bool" and kinds["assessmentscore.scorecard"] == "json"
    assert kinds["assessment.close_date"] == "date" and kinds["domainscore.score"] == "float"
    assert kinds["instrumentversion.source_yaml"] == "str" and kinds["answer.id"] == "int"
    with pytest.raises(backup.BackupError, match="cannot store columns of type"):
        backup.column_kind(postgresql.ARRAY(sa.Integer))


@pytest.mark.parametrize(
    ("value", "kind", "encoded", "decoded"),
    [
        (
            datetime(2027, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
            "datetime",
            "2027-03-01T14:30:00+00:00",
            datetime(2027, 3, 1, 14, 30, tzinfo=UTC),
        ),
        # SQLite gives back UTC without an offset: it is written as UTC.
        (
            datetime(2027, 3, 1, 14, 30, 0, 123456),
            "datetime",
            "2027-03-01T14:30:00.123456+00:00",
            datetime(2027, 3, 1, 14, 30, 0, 123456, tzinfo=UTC),
        ),
        (datetime(2027, 3, 1, 14, 30), "naive_datetime", "2027-03-01T14:30:00", datetime(2027, 3, 1, 14, 30)),
        (date(2027, 2, 28), "date", "2027-02-28", date(2027, 2, 28)),
        (Role.org_lead, "enum", "org_lead", "org_lead"),
        (True, "bool", True, True),
        (1, "bool", True, True),
        (0.1 + 0.2, "float", 0.30000000000000004, 0.30000000000000004),
        (Decimal("12.50"), "decimal", "12.50", Decimal("12.50")),
        ({"b": [1, None, "x"], "a": {"n": 1.5}}, "json", {"b": [1, None, "x"], "a": {"n": 1.5}}, None),
        (b"\x00\xffbytes", "bytes", "AP9ieXRlcw==", b"\x00\xffbytes"),
        (timedelta(days=1, microseconds=5), "interval", 86_400_000_005, timedelta(days=1, microseconds=5)),
        ("¿Sí? \x00 ok", "str", "¿Sí? \x00 ok", "¿Sí? \x00 ok"),
        (None, "datetime", None, None),
    ],
)
def test_values_are_written_by_kind_and_read_back_exactly(value, kind, encoded, decoded):
    assert backup.encode_value(value, kind) == encoded
    through_json = json.loads(json.dumps(encoded))
    assert backup.decode_value(through_json, kind) == (
        value if decoded is None and value is not None else decoded
    )


@pytest.mark.parametrize(
    ("value", "kind"), [("2027-03-01T14:30:00", "datetime"), ("yes", "bool"), (1.5, "int"), (3, "str")]
)
def test_values_of_the_wrong_kind_are_refused(value, kind):
    with pytest.raises(ValueError):
        backup.decode_value(value, kind)


def test_the_sqlite_snapshot_begins_before_the_first_read(tmp_path):
    """pysqlite would start no transaction for a SELECT: the backup's engine begins one itself."""
    path = tmp_path / "snap.sqlite3"
    sqlite3.connect(path).executescript(
        "PRAGMA journal_mode=WAL; CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1);"
    )
    engine = backup._engine(f"sqlite:///{path}")
    try:
        with backup._snapshot(engine) as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 1
            writer = sqlite3.connect(path)
            writer.execute("INSERT INTO t VALUES (2)")
            writer.commit()
            writer.close()
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 1
        with backup._snapshot(engine) as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 2
    finally:
        engine.dispose()


LATER_MIGRATION = '''"""a later release: a new table, and a data migration of existing rows"""

import sqlalchemy as sa
from alembic import op

revision = "0002_later_release"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "laternote",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organization.id"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.execute("UPDATE organization SET cohort = 'cohort ' || cohort")


def downgrade() -> None:
    op.drop_table("laternote")
'''


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_an_archive_from_an_older_release_is_restored_then_migrated(
    cast_archive: Path, target: str, empty_database, tmp_path, monkeypatch
):
    """The archive is restored at its own schema revision and the later migrations then run on its
    rows, in the same transaction; a database already at the later revision is first taken down to
    the archive's (it is empty, or emptied with --force)."""
    import shutil

    from app.paths import MIGRATIONS_DIR

    later = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, later, ignore=shutil.ignore_patterns("__pycache__"))
    (later / "versions" / "0002_later_release.py").write_text(LATER_MIGRATION.replace("{head}", HEAD))

    def later_config(url: str):
        config = migrate.alembic_config(url)
        config.set_main_option("script_location", str(later))
        return config

    monkeypatch.setattr(backup, "alembic_config", later_config)
    url = empty_database(target)
    settings = settings_for(url, tmp_path / "data")
    organization = sa.table("organization", sa.column("name"), sa.column("cohort"))
    for force in (False, True):
        restored = backup.restore(settings, cast_archive, force=force)
        assert (restored.archive_revision, restored.schema_revision) == (
            HEAD,
            "0002_later_release",
        )
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                assert connection.execute(
                    sa.text("SELECT version_num FROM alembic_version")
                ).scalar_one() == ("0002_later_release")
                cohorts = dict(
                    connection.execute(sa.select(organization.c.name, organization.c.cohort)).all()
                )
                assert "laternote" in sa.inspect(connection).get_table_names()
        finally:
            engine.dispose()
        # The later migration ran on the restored rows (once: the forced restore starts from the archive).
        assert cohorts == {"Alder Family Services": "cohort 2027", "Birch Behavioral Health": "cohort 2026"}
