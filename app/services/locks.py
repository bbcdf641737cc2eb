"""Per-assessment write lock: one place that serializes changes to an assessment's shared state.

Submitting, closing, reopening, importing, approving an import, releasing results and refreshing
the stored scorecard all read and then write state that belongs to one assessment. Each takes this
lock first, inside its own transaction, so that two of them never interleave: a submit that starts
after a close has committed sees the cycle closed, and two simultaneous submits rescore one after
the other instead of both writing a scorecard from a stale read.

Saving one answer only needs the cycle to stay open while it saves, so it takes the shared form
(`share_assessment`): many autosaves run side by side, and a close waits for those in flight
(then every later one sees the cycle closed). Everyone takes the assessment's lock before a
response's, so two changes never wait for each other in a circle.

A plan item (an organization's action, which may belong to no cycle at all) has its own row
lock, `lock_plan_item`, taken the same way: editing its status, owner, due date or notes reads
the stored values (the due-date rule compares with the previous date) and then writes them.

How: a no-op UPDATE of the row. On PostgreSQL that takes the row lock (held to commit);
on SQLite any write takes the database's single write lock (held to commit). So the same statement
is correct on both, without dialect branches or advisory-lock ids. The shared form is
PostgreSQL's alone (SELECT ... FOR SHARE); SQLite has no shared lock, so nothing is sent there.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, CursorResult, bindparam, select, update
from sqlmodel import Session, col

from app.db.models import Assessment, AssessmentStatus, PlanItem
from app.errors import NotFound


def _lock_row(session: Session, model: type[Assessment] | type[PlanItem], row_id: int, missing: str) -> None:
    result = session.execute(
        update(model)
        .where(col(model.id) == row_id)
        .values(id=model.id)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)  # what an UPDATE returns; it carries rowcount
    if result.rowcount == 0:
        raise NotFound(missing)


def lock_assessment(session: Session, assessment_id: int) -> None:
    """Take the assessment's write lock for the rest of the current transaction.

    Call it before reading anything the change depends on (status, responses, scores); the
    transaction's later reads then see every change committed before the lock was granted.
    Raises NotFound when the assessment does not exist.
    """
    _lock_row(session, Assessment, assessment_id, "No such assessment.")


def lock_plan_item(session: Session, item_id: int) -> None:
    """Take a plan item's write lock for the rest of the current transaction (as
    `lock_assessment`: refresh the item after it). Raises NotFound when the item does not exist."""
    _lock_row(session, PlanItem, item_id, "No such plan item.")


_SHARE = (
    select(col(Assessment.status), col(Assessment.close_date))
    .where(col(Assessment.id) == bindparam("assessment_id"))
    .with_for_update(read=True)
)


def share_assessment(
    session: Session | Connection, assessment_id: int
) -> tuple[AssessmentStatus, date | None] | None:
    """Hold the assessment's lock in shared form for the rest of the transaction: waits while a
    close, reopen, submit or import holds it, and makes them wait for this transaction.

    PostgreSQL: SELECT ... FOR SHARE, which also returns the cycle's status and close date as
    committed once the lock is granted (they cannot change until this transaction ends).
    SQLite has no row locks: nothing is sent and None is returned; there the writer's own UPDATE
    takes the database's write lock, after which the caller reads the cycle's status again."""
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    if dialect.name == "sqlite":
        return None
    row = session.execute(_SHARE, {"assessment_id": assessment_id}).one_or_none()
    return None if row is None else (row[0], row[1])
