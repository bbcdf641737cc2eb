"""Running one job in a worker: claim it, run its kind with a `JobContext`, record how it ended.

The queue delivers "run job N"; this module decides whether N may run (only a queued job is
claimed, by exactly one worker) and turns every way a job can end into a row state:

- done: the kind returned an Output (its file under the data folder);
- cancelled: a cancel request seen between two steps;
- failed: a domain error (PeerReadyError: the assessment is gone, access was withdrawn...), the
  time limit, or an unexpected error once the retries are used up. The error text is kept;
- queued again: an unexpected error with retries left (the queue retries it after a delay that
  grows each time), or the worker shutting down (handed back, picked up by the next worker).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.config import Settings
from app.db.engine import session_scope
from app.db.models import Job, User, utcnow
from app.errors import PeerReadyError
from app.jobs.registry import Output, Periodic, get_kind, register_periodic
from app.services import job_store as store

log = logging.getLogger("peerready.jobs")

HEARTBEAT_SECONDS = 10.0
# A running job whose heartbeat is older than this lost its worker (killed, machine restarted).
STALE_AFTER = timedelta(seconds=90)
LEASE_POLL_SECONDS = 0.1

# Set when this process's worker is shutting down: running jobs hand themselves back at their
# next step instead of holding the shutdown up until they finish.
SHUTTING_DOWN = threading.Event()


class JobStopped(Exception):
    """Raised inside a job's run by `JobContext.check()`; never seen by users."""


class JobCancelled(JobStopped):
    pass


class JobTimedOut(JobStopped):
    pass


class JobHandedBack(JobStopped):
    pass


class JobLost(JobStopped):
    """The row is no longer running (reaped as stale, or removed with its organization)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


class JobContext:
    """What a job kind's `run` gets: its settings, database, progress reporting and leases."""

    def __init__(
        self, *, job: Job, engine: Engine, settings: Settings, user: User | None, deadline: float | None
    ) -> None:
        assert job.id is not None
        self.job_id: int = job.id
        self.kind = job.kind
        self.engine = engine
        self.settings = settings
        self.user = user
        self.deadline = deadline
        self.timeout_seconds = job.timeout_seconds
        self.done = job.progress_done
        self.total = job.progress_total

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session

    def check(self) -> None:
        """Stop here if the job was cancelled, ran out of time or its worker is shutting down."""
        if SHUTTING_DOWN.is_set():
            raise JobHandedBack()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise JobTimedOut()
        with self.session() as session:
            if store.cancel_requested(session, self.job_id):
                raise JobCancelled()

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Record "done of total" with a message users read ("12 of 340 sites"); a step boundary."""
        self.done, self.total = done, total  # reached, even if the job stops right here
        self.check()
        with self.session() as session:
            if not store.progress(session, self.job_id, done=done, total=total, message=message):
                raise JobLost()

    def output_dir(self) -> Path:
        path = job_output_dir(self.settings, self.job_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def lease(self, key: str, *, ttl: timedelta = timedelta(minutes=10)) -> Iterator[None]:
        """Hold `key` while the block runs; wait (checking for cancel and time) while another job
        holds it. Leases expire after `ttl`, so a killed worker cannot hold one for ever."""
        with hold_lease(self.engine, key, job_id=self.job_id, ttl=ttl, check=self.check):
            yield


@contextmanager
def hold_lease(
    engine: Engine,
    key: str,
    *,
    job_id: int | None = None,
    ttl: timedelta = timedelta(minutes=10),
    check: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the lease `key` (a row of `joblock`, so it works across processes and machines on
    SQLite and PostgreSQL alike) while the block runs; wait while another holder has it.
    `job_id` None: a holder that is not a job (the command line's `peerready report`)."""
    while True:
        with Session(engine, expire_on_commit=False) as session:
            if store.try_lease(session, key, job_id=job_id, ttl=ttl):
                break
        if check is not None:
            check()
        time.sleep(LEASE_POLL_SECONDS)
    try:
        yield
    finally:
        with Session(engine, expire_on_commit=False) as session:
            store.release_lease(session, key, job_id=job_id)


def report_pdf_lease_key(pdf_cache_key: str) -> str:
    """The one lock of one report PDF (its content key): jobs, batches and the command line all
    render under it, so the same report is never rendered twice at once."""
    return f"report-pdf:{pdf_cache_key}"


def job_output_dir(settings: Settings, job_id: int) -> Path:
    return settings.data_dir / "jobs" / str(job_id)


def relative_to_data_dir(settings: Settings, path: Path) -> str:
    return path.resolve().relative_to(settings.data_dir.resolve()).as_posix()


class _Heartbeat:
    """Touches the job row every few seconds while a long step (one big PDF) runs."""

    def __init__(self, engine: Engine, job_id: int) -> None:
        self._engine = engine
        self._job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with session_scope(self._engine) as session:
                    store.heartbeat(session, self._job_id)
            except Exception:  # a missed beat is not fatal; the next one may land
                log.warning("Job %s: heartbeat failed", self._job_id, exc_info=True)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def run_job(
    job_id: int,
    *,
    engine: Engine,
    settings: Settings,
    retries_left: int = 0,
    retry_delay: float = 0.0,
    requeue: Callable[[int], Any] | None = None,
) -> str:
    """Run job `job_id` if it is queued. Returns how it ended ("done", "failed", "skipped", ...).

    Raises `RetryLater` (for the queue to retry after `retry_delay`) when an unexpected error
    happened and `retries_left` > 0."""
    with session_scope(engine) as session:
        job = store.get(session, job_id)
        if job is None:
            log.info("Job %s no longer exists; nothing to do.", job_id)
            return "skipped"
        if not store.claim(session, job_id, worker=worker_name()):
            log.info("Job %s is %s; not started here.", job_id, job.status)
            return "skipped"
        session.commit()
        job = store.get(session, job_id) or job
        user = store.starter(session, job)
        try:
            kind = get_kind(job.kind)
        except PeerReadyError as exc:
            store.fail(session, job_id, error=exc.message)
            return "failed"
        if job.created_by_id is not None and (user is None or not user.is_active):
            store.fail(session, job_id, error="The account that started this job is no longer active.")
            return "failed"
        params = dict(job.params)
        deadline = time.monotonic() + job.timeout_seconds if job.timeout_seconds else None
        context = JobContext(job=job, engine=engine, settings=settings, user=user, deadline=deadline)

    started = time.monotonic()
    outcome = "done"
    error: str | None = None
    output: Output | None = None
    retry = False
    try:
        with _Heartbeat(engine, job_id):
            output = kind.run(context, params)
    except JobCancelled:
        outcome = "cancelled"
    except JobHandedBack:
        outcome = "handed back"
    except JobLost:
        outcome = "lost"
    except JobTimedOut:
        outcome, error = "failed", f"The job took longer than its limit of {job.timeout_seconds} seconds."
    except PeerReadyError as exc:
        outcome, error = "failed", exc.message
    except Exception as exc:
        log.exception("Job %s (%s) failed", job_id, job.kind)
        attempt = job.attempts
        if retries_left > 0:
            retry = True
            outcome = "retrying"
            error = f"Attempt {attempt} failed ({_describe(exc)}). Trying again in {retry_delay:.0f} s."
        else:
            outcome, error = "failed", f"Failed after {attempt} attempt(s): {_describe(exc)}"

    with session_scope(engine) as session:
        if outcome == "done" and output is not None:
            path = relative_to_data_dir(settings, output.path) if output.path is not None else None
            store.finish(
                session,
                job_id,
                path=path,
                filename=output.filename,
                media_type=output.media_type,
                detail=output.detail,
            )
        elif outcome == "cancelled":
            store.mark_cancelled(session, job_id, message=cancelled_message(kind.unit, context))
        elif outcome == "handed back":
            store.back_to_queue(session, job_id, error=None, run_after=None)
        elif outcome == "retrying":
            store.back_to_queue(
                session, job_id, error=error, run_after=utcnow() + timedelta(seconds=retry_delay)
            )
        elif outcome == "failed":
            store.fail(session, job_id, error=error or "The job failed.")
    log.info("Job %s (%s): %s after %.1f s", job_id, job.kind, outcome, time.monotonic() - started)
    if outcome == "handed back" and requeue is not None:
        requeue(job_id)
    if retry:
        raise RetryLater(error or "retrying")
    return outcome


def cancelled_message(unit: str | None, context: JobContext) -> str:
    """What a cancelled job's page says: how far it got ("Cancelled after 3 of 50 sites")."""
    if unit and context.total:
        return f"Cancelled after {context.done} of {context.total} {unit}; nothing to download."
    return "Cancelled before it finished; nothing to download."


class RetryLater(Exception):
    """Tells the queue to run the job again after its retry delay."""


def reap_stale(engine: Engine) -> list[int]:
    with session_scope(engine) as session:
        reaped = store.reap_stale(session, stale_after=STALE_AFTER)
    if reaped:
        log.warning("Marked %d job(s) whose worker stopped as failed: %s", len(reaped), reaped)
    return reaped


def _reap_periodically(engine: Engine, settings: Settings) -> None:
    reap_stale(engine)


register_periodic(Periodic("reap_stale_jobs", every_minutes=1, run=_reap_periodically))
