"""Backup and restore: every table in one portable, versioned archive.

The archive is a zip file:

- `manifest.json`: format name and version, the PeerReady version that wrote it, the Alembic schema
  revision of the database, when it was taken, and per table its columns (name and kind), primary
  key, row count and the SHA-256 of its data file;
- `tables/<table>.jsonl`: one JSON object per row, keys in column order, rows in primary-key order.

Values are written by column kind, so they read back identically on SQLite and PostgreSQL:
datetimes as ISO 8601 in UTC with their offset, dates as ISO dates, booleans as JSON booleans, enums
by their stored name, JSON columns as JSON, bytes as base64, SQL NULL as `null`. The encoding is
canonical, so a table's checksum is also a checksum of its content: after a restore the new
database is read back and must give the same checksums.

The tables are those of `SQLModel.metadata`, so a table added later is backed up without changes
here; the instrument snapshots are the `instrumentversion` table (and listed in the manifest).

Consistency while the app is serving: every table is read in one transaction on one connection,
which sees one snapshot of the database (SQLite: an explicit BEGIN before the first read, in WAL
mode; PostgreSQL: SERIALIZABLE READ ONLY DEFERRABLE, as `pg_dump --serializable-deferrable`).

Restore is one transaction: (empty the database with `force`), migrate to the archive's schema
revision, insert every table in dependency order, reset PostgreSQL sequences, compare counts and
checksums, migrate to the newest revision, commit. Any problem rolls all of it back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import app.db.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from app.config import Settings
from app.db.migrate import alembic_config
from app.errors import PeerReadyError

FORMAT = "peerready-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
ALEMBIC_TABLE = "alembic_version"
BATCH_ROWS = 1000

KINDS = frozenset(
    {"int", "float", "decimal", "bool", "str", "enum", "datetime", "naive_datetime", "date", "time"}
    | {"interval", "json", "bytes", "uuid"}
)


class BackupError(PeerReadyError):
    """A backup or restore that cannot go ahead; the message is one line for the command line."""


class ArchiveError(BackupError):
    """The file is not a PeerReady backup this version can read, or it is damaged."""


class RestoreRefused(BackupError):
    """Restoring would overwrite data or needs a newer PeerReady."""


@dataclass(frozen=True)
class TableSummary:
    name: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class BackupSummary:
    path: Path
    schema_revision: str
    tables: tuple[TableSummary, ...]

    @property
    def total_rows(self) -> int:
        return sum(table.rows for table in self.tables)


@dataclass(frozen=True)
class RestoreSummary:
    database: str
    archive_revision: str
    schema_revision: str
    tables: tuple[TableSummary, ...]
    replaced_rows: int

    @property
    def total_rows(self) -> int:
        return sum(table.rows for table in self.tables)


def app_version() -> str:
    try:
        return importlib_metadata.version("peerready")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


def _display_url(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _one_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else original.__class__.__name__


# --- connections -------------------------------------------------------------------------------


def _engine(url: str) -> Engine:
    """An engine of our own: no pool, and on SQLite transactions we begin ourselves.

    pysqlite normally starts a transaction only before a write, so a series of SELECTs would each
    see the database as it is at that moment. Here the driver's implicit transactions are off and
    every `connection.begin()` emits BEGIN (or BEGIN IMMEDIATE, for a restore), so all reads share
    one snapshot and migrations plus inserts are one atomic transaction.
    """
    if not url.startswith("sqlite"):
        return sa.create_engine(url, poolclass=NullPool)
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def _sqlite_path(url: str) -> Path | None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction that sees the database at one point in time."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection = connection.execution_options(
                isolation_level="SERIALIZABLE", postgresql_readonly=True, postgresql_deferrable=True
            )
        with connection.begin():
            yield connection


def _script_directory(url: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(url))


def _head(script: ScriptDirectory) -> str:
    head = script.get_current_head()
    if head is None:  # pragma: no cover - the code always ships migrations
        raise BackupError("This version of PeerReady has no database migrations.")
    return head


def _is_known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown or malformed id
        return False


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


# --- values ------------------------------------------------------------------------------------


def column_kind(type_: sa.types.TypeEngine[Any]) -> str:
    """How a column's values are written in the archive."""
    if isinstance(type_, sa.Interval):
        return "interval"
    if isinstance(type_, sa.types.TypeDecorator):
        return column_kind(type_.impl_instance)
    checks: tuple[tuple[type, str], ...] = (
        (sa.JSON, "json"),
        (sa.Boolean, "bool"),
        (sa.Enum, "enum"),
        (sa.Integer, "int"),
        (sa.Float, "float"),
        (sa.Numeric, "decimal"),
        (sa.DateTime, "datetime"),
        (sa.Date, "date"),
        (sa.Time, "time"),
        (sa.Uuid, "uuid"),
        (sa.LargeBinary, "bytes"),
        (sa.String, "str"),
    )
    for python_type, kind in checks:
        if isinstance(type_, python_type):
            if kind == "datetime" and not getattr(type_, "timezone", False):
                return "naive_datetime"
            return kind
    raise BackupError(f"Backups cannot store columns of type {type_!r} yet.")


def _as_utc(value: datetime) -> datetime:
    # Aware values are converted; naive ones are UTC already (SQLite stores UTC without an offset).
    return value.astimezone(UTC) if value.utcoffset() is not None else value.replace(tzinfo=UTC)


def encode_value(value: Any, kind: str) -> Any:
    """A database value as JSON (see the module docstring)."""
    if value is None:
        return None
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if kind == "float" and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return float(value)
    if kind == "decimal" and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    if kind == "bool" and isinstance(value, bool | int):
        return bool(value)
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "enum" and isinstance(value, Enum):
        return value.name
    if kind == "enum" and isinstance(value, str):
        return value
    if kind == "datetime" and isinstance(value, datetime):
        return _as_utc(value).isoformat()
    if kind == "naive_datetime" and isinstance(value, datetime):
        return (
            value.astimezone(UTC).replace(tzinfo=None) if value.utcoffset() is not None else value
        ).isoformat()
    if kind == "date" and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if kind == "time" and isinstance(value, time):
        return value.isoformat()
    if kind == "interval" and isinstance(value, timedelta):
        return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    if kind == "json":
        return value
    if kind == "bytes" and isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "uuid" and isinstance(value, uuid.UUID | str):
        return str(value)
    raise TypeError(f"a {type(value).__name__} value where a {kind} was expected")


def decode_value(value: Any, kind: str) -> Any:
    """The inverse of `encode_value`: the Python value to insert."""
    if value is None or kind == "json":
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "interval" and isinstance(value, int) and not isinstance(value, bool):
        return timedelta(microseconds=value)
    if not isinstance(value, str):
        raise ValueError(f"expected a {kind}")
    if kind in ("str", "enum"):
        return value
    if kind == "decimal":
        return Decimal(value)
    if kind == "datetime":
        parsed = datetime.fromisoformat(value)
        if parsed.utcoffset() is None:
            raise ValueError("expected a datetime with its UTC offset")
        return parsed.astimezone(UTC)
    if kind == "naive_datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "bytes":
        return base64.b64decode(value, validate=True)
    if kind == "uuid":
        return uuid.UUID(value)
    raise ValueError(f"unknown kind {kind}")


def _line(names: list[str], kinds: list[str], row: Iterable[Any], *, table: str) -> bytes:
    values = {}
    for name, kind, value in zip(names, kinds, row, strict=True):
        try:
            values[name] = encode_value(value, kind)
        except TypeError as exc:
            raise BackupError(f"Cannot back up column {table}.{name}: {exc}.") from None
    try:
        text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise BackupError(f"Cannot back up a row of table {table}: {exc}.") from None
    return (text + "\n").encode("utf-8")


def _ordered_lines(
    connection: Connection,
    table: sa.TableClause,
    *,
    names: list[str],
    kinds: list[str],
    primary_key: list[str],
) -> Iterator[bytes]:
    """A table's rows as archive lines, in a canonical order.

    Integer keys sort the same on every database, so the database orders them; anything else
    (text keys follow each database's collation) is sorted here, by the encoded key.
    """
    columns = [table.c[name] for name in names]
    statement = sa.select(*columns)
    kind_of = dict(zip(names, kinds, strict=True))
    sort_in_sql = bool(primary_key) and all(kind_of[name] == "int" for name in primary_key)
    if sort_in_sql:
        statement = statement.order_by(*(table.c[name] for name in primary_key))
    result = connection.execute(statement.execution_options(yield_per=BATCH_ROWS))
    if sort_in_sql:
        for row in result:
            yield _line(names, kinds, row, table=table.name)
        return
    positions = [names.index(name) for name in primary_key] or list(range(len(names)))
    keyed = []
    for row in result:
        key = json.dumps([encode_value(row[i], kinds[i]) for i in positions], ensure_ascii=False)
        keyed.append((key, _line(names, kinds, row, table=table.name)))
    keyed.sort()
    for _key, line in keyed:
        yield line


# --- backup ------------------------------------------------------------------------------------


def backup(settings: Settings, out: Path) -> BackupSummary:
    """Write an archive of the configured database to `out` (replaced atomically when complete)."""
    url = settings.sqlalchemy_url
    path = _sqlite_path(url)
    if path is not None and not path.is_file():
        raise BackupError(f"There is no database at {path} (check PEERREADY_DATA_DIR or DATABASE_URL).")
    if path is not None and out.resolve() in {Path(f"{path.resolve()}{end}") for end in ("", "-wal", "-shm")}:
        raise BackupError(f"{out} is the database itself: write the backup to another file.")
    script = _script_directory(url)
    head = _head(script)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    partial = out.with_name(f".{out.name}.{secrets.token_hex(4)}.partial")
    engine = _engine(url)
    try:
        with _snapshot(engine) as connection:
            # The first read of the transaction: the snapshot starts here, and all that follows sees it.
            revision = _check_backup_revision(script, _current_revision(connection), head)
            summary = _write_archive(connection, partial, revision=revision, dialect=engine.dialect.name)
        os.replace(partial, out)
        return BackupSummary(path=out, schema_revision=summary[0], tables=summary[1])
    except SQLAlchemyError as exc:
        raise BackupError(f"Cannot read the database at {_display_url(url)}: {_one_line(exc)}") from None
    except OSError as exc:
        raise BackupError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()


def _check_backup_revision(script: ScriptDirectory, revision: str | None, head: str) -> str:
    if revision is None:
        raise BackupError("The database has no PeerReady tables yet: there is nothing to back up.")
    if revision == head:
        return revision
    if _is_known(script, revision):
        raise BackupError(
            f"The database is at schema revision {revision}, older than this version of PeerReady "
            f"({head}): run `peerready db upgrade` first."
        )
    raise BackupError(
        f"The database is at schema revision {revision}, which this version of PeerReady "
        f"({app_version()}) does not know: back it up with the version that upgraded it."
    )


def _write_archive(
    connection: Connection, path: Path, *, revision: str, dialect: str
) -> tuple[str, tuple[TableSummary, ...]]:
    entries = []
    summaries = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in SQLModel.metadata.sorted_tables:
            names = [column.name for column in table.columns]
            kinds = [column_kind(column.type) for column in table.columns]
            primary_key = [column.name for column in table.primary_key.columns]
            file_name = f"tables/{table.name}.jsonl"
            digest = hashlib.sha256()
            rows = 0
            with archive.open(_entry(file_name), "w", force_zip64=True) as handle:
                for line in _ordered_lines(
                    connection, table, names=names, kinds=kinds, primary_key=primary_key
                ):
                    handle.write(line)
                    digest.update(line)
                    rows += 1
            summary = TableSummary(name=table.name, rows=rows, sha256=digest.hexdigest())
            summaries.append(summary)
            entries.append(
                {
                    "name": table.name,
                    "file": file_name,
                    "rows": rows,
                    "sha256": summary.sha256,
                    "primary_key": primary_key,
                    "columns": [{"name": n, "kind": k} for n, k in zip(names, kinds, strict=True)],
                }
            )
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "app_version": app_version(),
            "schema_revision": revision,
            "created_at": datetime.now(UTC).isoformat(),
            "source_database": dialect,
            "instrument_snapshots": _instrument_snapshots(connection),
            "tables": entries,
        }
        archive.writestr(_entry(MANIFEST_NAME), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return revision, tuple(summaries)


def _entry(name: str) -> zipfile.ZipInfo:
    """A compressed archive member stamped with the time of the backup (not 1980)."""
    info = zipfile.ZipInfo(name, date_time=datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _instrument_snapshots(connection: Connection) -> list[dict[str, str]]:
    """What the instrumentversion table holds, for a person reading the manifest."""
    table = SQLModel.metadata.tables["instrumentversion"]
    rows = connection.execute(
        sa.select(table.c.instrument_id, table.c.version, table.c.content_hash).order_by(table.c.id)
    )
    return [{"instrument_id": i, "version": v, "content_hash": h} for i, v, h in rows]


# --- reading an archive ------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveTable:
    name: str
    file: str
    rows: int
    sha256: str
    primary_key: list[str]
    names: list[str]
    kinds: list[str]


@dataclass(frozen=True)
class Manifest:
    schema_revision: str
    app_version: str
    created_at: str
    tables: dict[str, ArchiveTable]
    raw: dict[str, Any]


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise ArchiveError(f"There is no file {path}.")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ArchiveError(
            f"{path} is not a PeerReady backup, or it is damaged: it cannot be read as a zip archive."
        ) from None


def _parse_manifest(path: Path, archive: zipfile.ZipFile) -> Manifest:
    not_ours = f"{path} is not a PeerReady backup (no valid {MANIFEST_NAME})."
    try:
        raw = json.loads(archive.read(MANIFEST_NAME))
    except (KeyError, ValueError, zipfile.BadZipFile, zlib.error, OSError):
        raise ArchiveError(not_ours) from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ArchiveError(not_ours)
    version = raw.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArchiveError(f"{path} has an unknown backup format version ({version!r}).")
    if version > FORMAT_VERSION:
        raise ArchiveError(
            f"{path} is in backup format version {version}, written by PeerReady "
            f"{raw.get('app_version', '?')}; this version ({app_version()}) reads up to version "
            f"{FORMAT_VERSION}: upgrade PeerReady to restore it."
        )
    damaged = f"{path} is damaged: its {MANIFEST_NAME} is incomplete."
    revision = raw.get("schema_revision")
    entries = raw.get("tables")
    if not isinstance(revision, str) or not revision or not isinstance(entries, list):
        raise ArchiveError(damaged)
    tables: dict[str, ArchiveTable] = {}
    for entry in entries:
        try:
            table = ArchiveTable(
                name=entry["name"],
                file=entry["file"],
                rows=entry["rows"],
                sha256=entry["sha256"],
                primary_key=list(entry["primary_key"]),
                names=[column["name"] for column in entry["columns"]],
                kinds=[column["kind"] for column in entry["columns"]],
            )
        except (KeyError, TypeError):
            raise ArchiveError(damaged) from None
        texts = [table.name, table.file, table.sha256, *table.names, *table.kinds, *table.primary_key]
        valid = (
            all(isinstance(text, str) for text in texts)
            and isinstance(table.rows, int)
            and set(table.primary_key) <= set(table.names)
            and set(table.kinds) <= KINDS
            and len(set(table.names)) == len(table.names)
            and table.name not in tables
        )
        if not valid:
            raise ArchiveError(damaged)
        tables[table.name] = table
    return Manifest(
        schema_revision=revision,
        app_version=str(raw.get("app_version", "?")),
        created_at=str(raw.get("created_at", "?")),
        tables=tables,
        raw=raw,
    )


def _archive_lines(path: Path, archive: zipfile.ZipFile, table: ArchiveTable) -> Iterator[bytes]:
    try:
        with archive.open(table.file) as handle:
            yield from handle
    except KeyError:
        raise ArchiveError(f"{path} is damaged: {table.file} is missing.") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
        raise ArchiveError(f"{path} is damaged: {table.file} cannot be read.") from None


def _verify_archive(path: Path, archive: zipfile.ZipFile, manifest: Manifest) -> None:
    """Every table file is there and matches its row count and checksum."""
    for table in manifest.tables.values():
        digest = hashlib.sha256()
        rows = 0
        for line in _archive_lines(path, archive, table):
            digest.update(line)
            rows += 1
        if digest.hexdigest() != table.sha256:
            raise ArchiveError(f"{path} is damaged: the checksum of table {table.name} does not match.")
        if rows != table.rows:
            raise ArchiveError(f"{path} is damaged: table {table.name} has {rows} rows, not {table.rows}.")


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a verified archive (format, revision, counts and checksums all checked)."""
    with _open_zip(path) as archive:
        manifest = _parse_manifest(path, archive)
        _verify_archive(path, archive, manifest)
        return manifest.raw


# --- restore -----------------------------------------------------------------------------------


def restore(settings: Settings, archive_path: Path, *, force: bool = False) -> RestoreSummary:
    """Restore an archive into the configured database, which must be empty unless `force`."""
    url = settings.sqlalchemy_url
    script = _script_directory(url)
    head = _head(script)
    with _open_zip(archive_path) as archive:
        manifest = _parse_manifest(archive_path, archive)
        if not _is_known(script, manifest.schema_revision):
            raise RestoreRefused(
                f"{archive_path} comes from a newer version of PeerReady ({manifest.app_version}, "
                f"schema revision {manifest.schema_revision}); this version ({app_version()}) knows "
                f"schema revisions up to {head}: upgrade PeerReady, then restore."
            )
        _verify_archive(archive_path, archive, manifest)

        sqlite_file = _sqlite_path(url)
        created_file = sqlite_file is not None and not sqlite_file.exists()
        engine = _engine(url)
        try:
            if sqlite_file is not None:
                sqlite_file.parent.mkdir(parents=True, exist_ok=True)
            with engine.connect() as connection:
                connection = connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                with connection.begin():
                    summary = _restore_in_transaction(
                        connection,
                        url=url,
                        script=script,
                        head=head,
                        archive_path=archive_path,
                        archive=archive,
                        manifest=manifest,
                        force=force,
                    )
            return summary
        except SQLAlchemyError as exc:
            raise BackupError(
                f"Restore failed, nothing was changed in {_display_url(url)}: {_one_line(exc)}"
            ) from None
        except OSError as exc:
            raise BackupError(f"Restore failed, nothing was changed: {exc.strerror or exc}.") from None
        finally:
            engine.dispose()
            if created_file and sqlite_file is not None and not _restored(sqlite_file):
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)


def _restored(sqlite_file: Path) -> bool:
    """Whether a new SQLite file holds a committed schema (else a failed restore created it)."""
    if not sqlite_file.exists():
        return False
    engine = sa.create_engine(f"sqlite:///{sqlite_file}", poolclass=NullPool)
    try:
        return ALEMBIC_TABLE in sa.inspect(engine).get_table_names()
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def _restore_in_transaction(
    connection: Connection,
    *,
    url: str,
    script: ScriptDirectory,
    head: str,
    archive_path: Path,
    archive: zipfile.ZipFile,
    manifest: Manifest,
    force: bool,
) -> RestoreSummary:
    where = _display_url(url)
    current = _current_revision(connection)
    if current is not None and not _is_known(script, current):
        raise RestoreRefused(
            f"The database at {where} is at schema revision {current}, which this version of "
            f"PeerReady ({app_version()}) does not know: restore with a newer version."
        )
    existing = _reflect(connection)
    counts = {name: _count(connection, table) for name, table in existing.tables.items()}
    replaced = sum(counts.values())
    if replaced and not force:
        filled = sum(1 for count in counts.values() if count)
        raise RestoreRefused(
            f"The database at {where} is not empty ({replaced} rows in {filled} tables): restore "
            "into an empty database, or add --force to replace everything in it."
        )
    if replaced:
        _empty(connection, existing)
    _migrate(connection, url=url, script=script, current=current, target=manifest.schema_revision)
    schema = _reflect(connection)
    _check_schema(archive_path, schema, manifest)
    tables = [schema.tables[name] for name in _insert_order(schema)]
    deferred: list[tuple[sa.TableClause, str, list[dict[str, Any]]]] = []
    bound = {table.name: _bound_table(table, manifest.tables[table.name]) for table in tables}
    for position, table in enumerate(tables):
        later = {t.name for t in tables[position:]}
        deferred += _insert_table(
            connection,
            table=table,
            bound=bound[table.name],
            entry=manifest.tables[table.name],
            lines=_archive_lines(archive_path, archive, manifest.tables[table.name]),
            later=later,
        )
    for target, column, values in deferred:
        key = manifest.tables[target.name].primary_key
        statement = (
            sa.update(target)
            .where(*(target.c[k] == sa.bindparam(f"backup_key_{k}") for k in key))
            .values({column: sa.bindparam("backup_value")})
        )
        connection.execute(statement, values)
    if connection.dialect.name == "postgresql":
        _reset_sequences(connection, tables)
    restored = _verify_restored(connection, tables, bound, manifest)
    if manifest.schema_revision != head:
        _migrate(connection, url=url, script=script, current=manifest.schema_revision, target=head)
    return RestoreSummary(
        database=where,
        archive_revision=manifest.schema_revision,
        schema_revision=head,
        tables=restored,
        replaced_rows=replaced,
    )


def _reflect(connection: Connection) -> sa.MetaData:
    reflected = sa.MetaData()
    reflected.reflect(bind=connection)
    if ALEMBIC_TABLE in reflected.tables:
        reflected.remove(reflected.tables[ALEMBIC_TABLE])
    return reflected


def _insert_order(schema: sa.MetaData) -> list[str]:
    import warnings

    with warnings.catch_warnings():
        # A cycle between tables is handled by deferring its foreign keys (see _insert_table).
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        return [table.name for table in schema.sorted_tables]


def _count(connection: Connection, table: sa.Table) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _empty(connection: Connection, schema: sa.MetaData) -> None:
    names = _insert_order(schema)
    if connection.dialect.name == "postgresql":
        quote = connection.dialect.identifier_preparer.quote
        connection.exec_driver_sql(f"TRUNCATE {', '.join(quote(n) for n in names)} RESTART IDENTITY CASCADE")
        return
    for name in reversed(names):
        connection.execute(sa.delete(schema.tables[name]))


def _migrate(
    connection: Connection, *, url: str, script: ScriptDirectory, current: str | None, target: str
) -> None:
    """Move an empty database's schema to `target`, inside the caller's transaction."""
    if current == target:
        return
    config = alembic_config(url)
    config.attributes["connection"] = connection
    older = {revision.revision for revision in script.iterate_revisions(target, "base")}
    if current is None or current in older:
        command.upgrade(config, target)
    else:
        command.downgrade(config, target)


def _check_schema(path: Path, schema: sa.MetaData, manifest: Manifest) -> None:
    """The archive has exactly the tables and columns of its schema revision."""
    mismatch = f"{path} is damaged: it does not match schema revision {manifest.schema_revision}"
    if set(schema.tables) != set(manifest.tables):
        missing = sorted(set(schema.tables) - set(manifest.tables))
        extra = sorted(set(manifest.tables) - set(schema.tables))
        detail = "; ".join(
            part
            for part in (
                f"tables missing: {', '.join(missing)}" if missing else "",
                f"unknown tables: {', '.join(extra)}" if extra else "",
            )
            if part
        )
        raise ArchiveError(f"{mismatch} ({detail}).")
    for name, table in schema.tables.items():
        if set(table.columns.keys()) != set(manifest.tables[name].names):
            raise ArchiveError(f"{mismatch} (the columns of table {name} differ).")


def _bound_table(reflected: sa.Table, entry: ArchiveTable) -> sa.TableClause:
    """The table with the types the app itself uses where it knows the column (as the backup read
    it), else the types found in the database."""
    model = SQLModel.metadata.tables.get(reflected.name)
    columns = []
    for name in entry.names:
        known = model is not None and name in model.columns
        type_ = model.columns[name].type if known and model is not None else reflected.columns[name].type
        columns.append(sa.column(name, type_))
    return sa.table(reflected.name, *columns)


def _insert_table(
    connection: Connection,
    *,
    table: sa.Table,
    bound: sa.TableClause,
    entry: ArchiveTable,
    lines: Iterator[bytes],
    later: set[str],
) -> list[tuple[sa.TableClause, str, list[dict[str, Any]]]]:
    """Insert a table's rows in batches. A nullable foreign key to this table or one not inserted
    yet is inserted as NULL and set afterwards (PostgreSQL checks every statement)."""
    deferred_columns = sorted(
        {
            fk.parent.name
            for fk in table.foreign_keys
            if fk.parent.nullable and fk.column.table.name in later and entry.primary_key
        }
    )
    deferred_values: dict[str, list[dict[str, Any]]] = {name: [] for name in deferred_columns}
    statement = sa.insert(bound)
    batch: list[dict[str, Any]] = []
    expected = set(entry.names)
    for number, line in enumerate(lines, start=1):
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict) or set(raw) != expected:
                raise ValueError("the columns do not match the manifest")
            row = {}
            for name, kind in zip(entry.names, entry.kinds, strict=True):
                try:
                    row[name] = decode_value(raw[name], kind)
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"column {name}: {exc}") from None
        except ValueError as exc:
            raise ArchiveError(f"{entry.file} line {number} cannot be restored: {exc}.") from None
        for name in deferred_columns:
            if row[name] is not None:
                values = {f"backup_key_{k}": row[k] for k in entry.primary_key}
                values["backup_value"] = row[name]
                deferred_values[name].append(values)
                row[name] = None
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            _insert_batch(connection, statement, batch, table=table.name)
            batch = []
    if batch:
        _insert_batch(connection, statement, batch, table=table.name)
    return [(bound, name, values) for name, values in deferred_values.items() if values]


def _insert_batch(
    connection: Connection, statement: sa.Insert, batch: list[dict[str, Any]], *, table: str
) -> None:
    try:
        connection.execute(statement, batch)
    except SQLAlchemyError as exc:
        raise BackupError(f"Restore failed at table {table}, nothing was changed: {_one_line(exc)}") from None


def _reset_sequences(connection: Connection, tables: list[sa.Table]) -> None:
    """After inserting explicit ids, make each sequence continue after the largest one."""
    quote = connection.dialect.identifier_preparer.quote
    for table in tables:
        for column in table.columns:
            if not isinstance(column.type, sa.Integer):
                continue
            sequence = connection.execute(
                sa.text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": quote(table.name), "column": column.name},
            ).scalar_one()
            if sequence is None:
                continue
            connection.execute(
                sa.text(
                    f"SELECT setval(CAST(:sequence AS regclass), COALESCE(MAX({quote(column.name)}), 1), "
                    f"MAX({quote(column.name)}) IS NOT NULL) FROM {quote(table.name)}"
                ),
                {"sequence": sequence},
            )


def _verify_restored(
    connection: Connection,
    tables: list[sa.Table],
    bound: dict[str, sa.TableClause],
    manifest: Manifest,
) -> tuple[TableSummary, ...]:
    """Read every restored table back: same row count and checksum as the archive."""
    summaries = []
    for table in tables:
        entry = manifest.tables[table.name]
        digest = hashlib.sha256()
        rows = 0
        for line in _ordered_lines(
            connection, bound[table.name], names=entry.names, kinds=entry.kinds, primary_key=entry.primary_key
        ):
            digest.update(line)
            rows += 1
        if rows != entry.rows or digest.hexdigest() != entry.sha256:
            raise BackupError(
                f"Restore failed, nothing was changed: table {table.name} reads back differently from "
                f"the archive ({rows} rows, {entry.rows} expected)."
            )
        summaries.append(TableSummary(name=table.name, rows=rows, sha256=entry.sha256))
    return tuple(summaries)
