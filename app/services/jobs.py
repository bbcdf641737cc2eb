"""What the rest of PeerReady calls: start a job, read it, cancel it, retry it, download its file.

    from app.services import jobs

    job = jobs.start(session, "report", params={"assessment_id": 12}, user=user, settings=settings)
    # -> a Job row (queued; done already in immediate mode). Show /jobs/{job.id}.

    jobs.start_after_commit(session, "report", params={...}, user=None, settings=settings)
    # -> from inside a service that is changing data: the job is created once `session` commits
    #    (never if it rolls back), so it renders what was committed.

Starting checks the parameters and the user's access (the kind's `prepare`) and raises the usual
domain errors (BadInput 400, Forbidden 403, NotFound 404). Work that is already queued or running
under the same lock key is not started twice: `start` returns that job instead.

Every status change runs in a short transaction of its own on the session's engine, committed
before the queue hears of it; the caller's session is read (user, access checks), and `start`
commits it before creating the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.config import Settings
from app.db.models import ACTIVE_STATUSES, Job, JobStatus, Role, User
from app.errors import BadInput, Conflict, Forbidden, Gone, NotFound, PeerReadyError
from app.i18n import N_
from app.jobs import runner
from app.jobs.queue import get_queue
from app.jobs.registry import Prepared, get_kind
from app.services import access, audit
from app.services import job_store as store

log = logging.getLogger("peerready.jobs")

WAITING_MESSAGE = "Waiting for a worker"


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _prepare(
    session: Session, kind: str, params: Mapping[str, Any], user: User | None, settings: Settings
) -> Prepared:
    if not isinstance(params, Mapping):
        raise BadInput(N_("Job parameters must be a mapping."))
    return get_kind(kind).prepare(session, dict(params), user, settings)


def _new_job(kind: str, prepared: Prepared, user: User | None) -> Job:
    return Job(
        kind=kind,
        status=JobStatus.queued,
        title=prepared.title[:300],
        params=prepared.params,
        lock_key=prepared.lock_key,
        created_by_id=user.id if user is not None else None,
        organization_id=prepared.organization_id,
        portfolio_id=prepared.portfolio_id,
        progress_total=prepared.total,
        progress_message=WAITING_MESSAGE,
        timeout_seconds=prepared.timeout_seconds,
    )


def _enqueue(engine: Engine, settings: Settings, job: Job) -> None:
    """Ring the queue's bell for `job` (committed). A queue that cannot be reached fails the job
    with a clear message rather than leaving it queued for ever."""
    assert job.id is not None
    kind = get_kind(job.kind)
    try:
        get_queue(settings, engine).enqueue(job.id, retries=kind.retries)
    except Exception as exc:
        log.exception("Could not queue job %s", job.id)
        with Session(engine, expire_on_commit=False) as own:
            store.fail(own, job.id, error="The job queue could not be reached.", statuses=(JobStatus.queued,))
            own.commit()
        raise PeerReadyError(
            N_("The job queue could not be reached; nothing was started. Try again in a moment."),
            status_code=503,
        ) from exc


def _insert_or_join(engine: Engine, job: Job) -> tuple[Job, bool]:
    """(the job, True) after inserting it, or (the active job holding its lock key, False)."""
    with Session(engine, expire_on_commit=False) as own:
        for attempt in range(3):
            if job.lock_key is not None:
                existing = store.active_with_lock(own, job.lock_key)
                if existing is not None and attempt == 0 and existing.status == JobStatus.running:
                    own.rollback()
                    runner.reap_stale(engine)  # a lock held by a dead worker's job is freed first
                    existing = store.active_with_lock(own, job.lock_key)
                if existing is not None:
                    return existing, False
            if store.insert(own, job) is not None:
                return job, True
            # Lost a race with another start of the same work: join it (loop reads it back).
    raise Conflict(N_("The same work is being started elsewhere at this moment. Try again."))


def _reload(engine: Engine, job_id: int) -> Job:
    with Session(engine, expire_on_commit=False) as own:
        job = store.get(own, job_id)
    if job is None:
        raise NotFound(N_("No such job."))
    return job


def start(
    session: Session,
    kind: str,
    *,
    params: Mapping[str, Any],
    user: User | None,
    settings: Settings,
) -> Job:
    """Start (or join) a job of `kind`; `user` None means PeerReady itself started it.

    Commits `session` first: the job then sees what the caller wrote, and on SQLite the caller's
    open write transaction cannot block the job's insert. From inside a larger unit of work that
    must stay atomic, use `start_after_commit` instead."""
    prepared = _prepare(session, kind, params, user, settings)
    session.commit()
    engine = _engine_of(session)
    job, created = _insert_or_join(engine, _new_job(kind, prepared, user))
    assert job.id is not None
    if created:
        _enqueue(engine, settings, job)
    return _reload(engine, job.id)


def start_after_commit(
    session: Session,
    kind: str,
    *,
    params: Mapping[str, Any],
    user: User | None,
    settings: Settings,
    on_started: Callable[[Job], None] | None = None,
) -> None:
    """Check now, start once `session` commits; nothing happens if it rolls back."""
    prepared = _prepare(session, kind, params, user, settings)
    pending = session.info.setdefault(_PENDING, [])
    pending.append(_Pending(_engine_of(session), settings, _new_job(kind, prepared, user), on_started))
    if not session.info.get(_HOOKED):
        event.listen(session, "after_commit", _start_pending)
        event.listen(session, "after_soft_rollback", _drop_pending)
        session.info[_HOOKED] = True


_PENDING = "peerready.jobs.pending"
_HOOKED = "peerready.jobs.hooked"


class _Pending:
    def __init__(
        self, engine: Engine, settings: Settings, job: Job, on_started: Callable[[Job], None] | None
    ) -> None:
        self.engine, self.settings, self.job, self.on_started = engine, settings, job, on_started


def _start_pending(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released, not the commit (report_prepare)
        return
    for item in session.info.pop(_PENDING, []):
        try:
            job, created = _insert_or_join(item.engine, item.job)
            if created:
                _enqueue(item.engine, item.settings, job)
            if item.on_started is not None:
                item.on_started(job)
        except Exception:
            # The caller's work is committed; a job that could not start is logged, not raised
            # into a commit that already happened.
            log.exception("Could not start a %s job after commit", item.job.kind)


def _drop_pending(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)


# --- reading and access -----------------------------------------------------------------------


def check_access(session: Session, job: Job, *, user: User) -> None:
    """Who may see a job: admins; anyone who may see the organization or portfolio it concerns;
    for a job that spans organizations, the person who started it while they still may see all
    of them. Others get 404 (ids reveal nothing), or 403 for a role that never sees such data."""
    if user.role == Role.admin:
        return
    try:
        if job.organization_id is not None:
            access.get_organization(session, user=user, organization_id=job.organization_id)
        elif job.portfolio_id is not None:
            access.get_portfolio(session, user=user, portfolio_id=job.portfolio_id)
        elif job.created_by_id is not None and job.created_by_id == user.id:
            for organization_id in job.params.get("organization_ids", []):
                access.get_organization(session, user=user, organization_id=int(organization_id))
        else:
            raise NotFound(N_("No such job."))
    except NotFound:
        raise NotFound(N_("No such job.")) from None
    except Forbidden:
        raise


def get(session: Session, job_id: int, *, user: User | None) -> Job:
    """The job, if `user` may see it. `user` None is the operator on the command line
    (`peerready jobs ...`), who sees every job of the instance."""
    if not access.is_valid_id(job_id):
        raise NotFound(N_("No such job."))
    job = store.get(session, job_id)
    if job is None:
        raise NotFound(N_("No such job."))
    if user is not None:
        check_access(session, job, user=user)
    return job


def recent(session: Session, *, limit: int = 20) -> list[Job]:
    """The newest jobs of the instance (for the operator's `peerready jobs list`)."""
    return store.recent(session, limit=limit)


def _audit(session: Session, job: Job, *, user: User | None, action: str) -> None:
    """Cancel and retry change shared work: recorded like the downloads (app.services.audit)."""
    audit.record(
        session,
        actor=user if user is not None else "command line",
        action=action,
        target=f"job:{job.id}",
        organization_id=job.organization_id,
        detail={"kind": job.kind, "status_before": job.status},
    )
    session.commit()


# --- changing ---------------------------------------------------------------------------------


def cancel(session: Session, job_id: int, *, user: User | None) -> Job:
    """Cancel a queued job at once; ask a running one to stop at its next step (a batch stops
    between two sites). `user` None: the operator on the command line."""
    job = get(session, job_id, user=user)
    engine = _engine_of(session)
    with Session(engine, expire_on_commit=False) as own:
        changed = store.cancel_queued(own, job_id) or store.request_cancel(own, job_id)
        own.commit()
    if not changed:
        raise Conflict(_ALREADY_FINISHED.get(job.status, _ALREADY_FINISHED["done"]))
    _audit(session, job, user=user, action="job.cancel")
    return _reload(engine, job_id)


def retry(session: Session, job_id: int, *, user: User | None, settings: Settings) -> Job:
    """Queue a failed or cancelled job again (the same row, re-enqueued). If the same work is
    already queued or running, that job is returned instead. `user` None: the command line."""
    job = get(session, job_id, user=user)
    engine = _engine_of(session)
    with Session(engine, expire_on_commit=False) as own:
        try:
            changed = store.requeue_finished(own, job_id, statuses=(JobStatus.failed, JobStatus.cancelled))
            own.commit()
        except IntegrityError:
            own.rollback()
            active = store.active_with_lock(own, job.lock_key) if job.lock_key else None
            if active is not None:
                return active
            raise Conflict(N_("The same work was started again meanwhile. Reload the page.")) from None
    if not changed:
        current = _reload(engine, job_id)
        if current.status in ACTIVE_STATUSES:
            return current
        raise Conflict(N_("Only a failed or cancelled job can be tried again."))
    _audit(session, job, user=user, action="job.retry")
    _enqueue(engine, settings, job)
    return _reload(engine, job_id)


_ALREADY_FINISHED = {
    "done": N_("This job has already finished; there is nothing to cancel."),
    "failed": N_("This job has already failed; there is nothing to cancel."),
    "cancelled": N_("This job has already been cancelled; there is nothing to cancel."),
}


# --- the result -------------------------------------------------------------------------------


def result_file(
    session: Session, job_id: int, *, user: User, settings: Settings, paper: str | None = None
) -> tuple[Path, str, str]:
    """(path, download name, media type) of a finished job's file; the download is audited.
    Conflict while the job is not done, Gone when its file is no longer kept."""
    job = get(session, job_id, user=user)
    if job.status != JobStatus.done or not job.result_path:
        raise Conflict(N_("This job has no file to download yet."))
    relative = job.result_path
    if paper is not None:
        files = job.result_detail.get("files") or {}
        if paper not in files:
            raise BadInput(N_("This job has no file for that paper size."))
        relative = (Path(job.result_path).parent / str(files[paper])).as_posix()
    root = settings.data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Gone(N_("The file of this job is no longer kept. Start it again to make a new one."))
    kind = get_kind(job.kind)
    audit.record(
        session,
        actor=user,
        action=kind.audit_action,
        target=f"job:{job.id}",
        organization_id=job.organization_id,
        detail={"kind": job.kind, "bytes": path.stat().st_size, **({"paper": paper} if paper else {})},
    )
    return path, job.result_filename or path.name, job.result_media_type or "application/octet-stream"


def as_dict(job: Job) -> dict[str, Any]:
    """The JSON a job page polls (no file paths, no parameters)."""
    total = job.progress_total
    percent = None
    if total:
        percent = max(0, min(100, round(100 * job.progress_done / total)))
    elif job.status == JobStatus.done:
        percent = 100
    return {
        "id": job.id,
        "kind": job.kind,
        "title": job.title,
        "status": job.status,
        "finished": job.status not in ACTIVE_STATUSES,
        "progress": {
            "done": job.progress_done,
            "total": total,
            "percent": percent,
            "message": job.progress_message,
        },
        "cancel_requested": job.cancel_requested,
        "attempts": job.attempts,
        "error": job.error,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "download_url": f"/jobs/{job.id}/download"
        if job.status == JobStatus.done and job.result_path
        else None,
        "result_filename": job.result_filename if job.status == JobStatus.done else None,
        "page_url": f"/jobs/{job.id}",
    }
