"""One INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL alike.

Both dialects spell it the same way in SQL, but SQLAlchemy builds it from dialect-specific
`insert` constructs; this picks the right one, so services need no dialect branches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session


def upsert(
    session: Session,
    table: Table,
    *,
    values: Mapping[str, Any],
    key: Sequence[str],
    update: Mapping[str, Any] | None = None,
) -> Insert:
    """An INSERT of `values` that, when a row with the same `key` columns exists, updates it
    with `update` (default: every non-key value). Returned unexecuted, so callers can add
    `.returning(...)`."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(**values)
    changes = dict(update) if update is not None else {k: v for k, v in values.items() if k not in key}
    return statement.on_conflict_do_update(index_elements=list(key), set_=changes)
