"""Every query on the job tables. Each status change is one conditional UPDATE (`... WHERE id = ?
AND status = ?`), so on SQLite and PostgreSQL alike only one of two racing callers wins: the
database decides, and the loser sees rowcount 0 and backs off."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.db.models import ACTIVE_STATUSES, Job, JobLock, JobStatus, User, utcnow

ERROR_MAX_CHARS = 2000


def _changed(session: Session, statement: Any) -> bool:
    result = session.execute(statement.execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)  # what UPDATE/DELETE return; it carries rowcount
    return result.rowcount == 1


def _where(job_id: int, *statuses: str) -> Any:
    return update(Job).where(col(Job.id) == job_id, col(Job.status).in_(list(statuses)))


# --- reading ----------------------------------------------------------------------------------


def get(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id, populate_existing=True)


def active_with_lock(session: Session, lock_key: str) -> Job | None:
    statement = select(Job).where(Job.lock_key == lock_key, col(Job.status).in_(list(ACTIVE_STATUSES)))
    return session.exec(statement.execution_options(populate_existing=True)).first()


def recent(session: Session, *, limit: int) -> list[Job]:
    statement = select(Job).order_by(col(Job.id).desc()).limit(limit)
    return list(session.exec(statement.execution_options(populate_existing=True)))


def counts_by_status(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.exec(select(Job.status, func.count()).group_by(Job.status))
    return {status: int(n) for status, n in rows}


# --- creating ---------------------------------------------------------------------------------


def insert(session: Session, job: Job) -> Job | None:
    """Insert and commit a new queued job. None when an active job already holds its lock key (the
    database's partial unique index refused it); the session is rolled back then."""
    session.add(job)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if job.lock_key is None:
            raise
        return None
    return job


# --- the worker's transitions -----------------------------------------------------------------


def claim(session: Session, job_id: int, *, worker: str, now: datetime | None = None) -> bool:
    """queued → running, for exactly one caller. A job with a cancel request is not started."""
    now = now or utcnow()
    return _changed(
        session,
        _where(job_id, JobStatus.queued)
        .where(col(Job.cancel_requested).is_(False))
        .values(
            status=JobStatus.running,
            attempts=Job.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            run_after=None,
            worker=worker[:200],
        ),
    )


def progress(session: Session, job_id: int, *, done: int, total: int | None, message: str | None) -> bool:
    """Record progress (and a heartbeat). False when the job is no longer running."""
    return _changed(
        session,
        _where(job_id, JobStatus.running).values(
            progress_done=done,
            progress_total=total,
            progress_message=None if message is None else message[:300],
            heartbeat_at=utcnow(),
        ),
    )


def heartbeat(session: Session, job_id: int) -> bool:
    return _changed(session, _where(job_id, JobStatus.running).values(heartbeat_at=utcnow()))


def cancel_requested(session: Session, job_id: int) -> bool:
    statement = select(Job.cancel_requested).where(Job.id == job_id)
    return bool(session.exec(statement).first())


def finish(
    session: Session,
    job_id: int,
    *,
    path: str | None,
    filename: str | None,
    media_type: str | None,
    detail: dict[str, Any],
) -> bool:
    return _changed(
        session,
        _where(job_id, JobStatus.running).values(
            status=JobStatus.done,
            result_path=path,
            result_filename=filename,
            result_media_type=media_type,
            result_detail=detail,
            error=None,
            finished_at=utcnow(),
        ),
    )


def fail(
    session: Session, job_id: int, *, error: str, statuses: Sequence[str] = (JobStatus.running,)
) -> bool:
    return _changed(
        session,
        _where(job_id, *statuses).values(
            status=JobStatus.failed, error=error[:ERROR_MAX_CHARS], finished_at=utcnow()
        ),
    )


def mark_cancelled(session: Session, job_id: int, *, message: str | None = None) -> bool:
    values: dict[str, Any] = {"status": JobStatus.cancelled, "finished_at": utcnow()}
    if message is not None:
        values["progress_message"] = message[:300]
    return _changed(session, _where(job_id, JobStatus.running).values(**values))


def back_to_queue(session: Session, job_id: int, *, error: str | None, run_after: datetime | None) -> bool:
    """running → queued: a retry after a passing failure, or a job handed back at a worker's shutdown."""
    return _changed(
        session,
        _where(job_id, JobStatus.running).values(
            status=JobStatus.queued,
            error=None if error is None else error[:ERROR_MAX_CHARS],
            run_after=run_after,
            worker=None,
        ),
    )


def reap_stale(session: Session, *, stale_after: timedelta, now: datetime | None = None) -> list[int]:
    """Running jobs whose heartbeat stopped (their worker was killed) become failed, so their
    lock is free and a user can retry them."""
    cutoff = (now or utcnow()) - stale_after
    statement = select(Job.id).where(Job.status == JobStatus.running, col(Job.heartbeat_at) < cutoff)
    reaped = []
    for job_id in list(session.exec(statement)):
        if job_id is not None and _changed(
            session,
            _where(job_id, JobStatus.running)
            .where(col(Job.heartbeat_at) < cutoff)
            .values(
                status=JobStatus.failed,
                error="The worker running this job stopped before it finished. You can try again.",
                finished_at=utcnow(),
            ),
        ):
            reaped.append(job_id)
    return reaped


# --- the user's transitions -------------------------------------------------------------------


def cancel_queued(session: Session, job_id: int) -> bool:
    """queued → cancelled at once (the worker will skip it)."""
    return _changed(
        session,
        _where(job_id, JobStatus.queued).values(
            status=JobStatus.cancelled,
            cancel_requested=True,
            finished_at=utcnow(),
            progress_message="Cancelled before it started",
        ),
    )


def request_cancel(session: Session, job_id: int) -> bool:
    """A running job is asked to stop; it does so at its next step."""
    return _changed(session, _where(job_id, JobStatus.running).values(cancel_requested=True))


def requeue_finished(session: Session, job_id: int, *, statuses: Iterable[str]) -> bool:
    """failed/cancelled → queued, for a retry. Raises IntegrityError when another active job now
    holds the same lock key."""
    return _changed(
        session,
        _where(job_id, *statuses).values(
            status=JobStatus.queued,
            cancel_requested=False,
            error=None,
            progress_done=0,
            progress_message=None,
            started_at=None,
            finished_at=None,
            heartbeat_at=None,
            run_after=None,
            worker=None,
        ),
    )


# --- leases -----------------------------------------------------------------------------------


def try_lease(session: Session, key: str, *, job_id: int | None, ttl: timedelta) -> bool:
    """Take the lease `key` for `ttl` if nobody holds it (or the holder's lease ran out). Commits."""
    now = utcnow()
    # An expired lease (its holder died) is removed first; only one remover can succeed.
    session.execute(
        delete(JobLock)
        .where(col(JobLock.key) == key, col(JobLock.expires_at) < now)
        .execution_options(synchronize_session=False)
    )
    session.add(JobLock(key=key, job_id=job_id, acquired_at=now, expires_at=now + ttl))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def release_lease(session: Session, key: str, *, job_id: int | None) -> None:
    holder = col(JobLock.job_id).is_(None) if job_id is None else col(JobLock.job_id) == job_id
    session.execute(
        delete(JobLock).where(col(JobLock.key) == key, holder).execution_options(synchronize_session=False)
    )
    session.commit()


def starter(session: Session, job: Job) -> User | None:
    """The account that started `job` (None for work PeerReady started itself, or a deleted account)."""
    return session.get(User, job.created_by_id) if job.created_by_id is not None else None
