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

How: a no-op UPDATE of the assessment row. On PostgreSQL that takes the row lock (held to commit);
on SQLite any write takes the database's single write lock (held to commit). So the same statement
is correct on both, without dialect branches or advisory-lock ids.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlmodel import Session, col

from app.db.models import Assessment
from app.errors import NotFound


def lock_assessment(session: Session, assessment_id: int) -> None:
    """Take the assessment's write lock for the rest of the current transaction.

    Call it before reading anything the change depends on (status, responses, scores); the
    transaction's later reads then see every change committed before the lock was granted.
    Raises NotFound when the assessment does not exist.
    """
    result = session.execute(
        update(Assessment)
        .where(col(Assessment.id) == assessment_id)
        .values(id=Assessment.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("No such assessment.")


def share_assessment(session: Session, assessment_id: int) -> None:
    """Hold the assessment's lock in shared form for the rest of the transaction: waits while a
    close, reopen, submit or import holds it, and makes them wait for this transaction.

    PostgreSQL: SELECT ... FOR SHARE. SQLite has no row locks (SQLAlchemy leaves the clause
    out); there the writer's own UPDATE takes the database's write lock, after which the caller
    reads the cycle's status again."""
    session.execute(
        select(Assessment.id).where(col(Assessment.id) == assessment_id).with_for_update(read=True)
    )
