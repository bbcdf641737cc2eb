"""The one place that knows the queue library (huey). Everything else calls `JobQueue`.

Storage, chosen from Settings (PEERREADY_QUEUE):
- "sqlite" (the embedded default): huey's SqliteHuey in `<data dir>/queue.sqlite3`, a file of its
  own so the queue's exclusive dequeue transactions never wait on the app's database.
- "postgres" (default when DATABASE_URL is PostgreSQL): huey's PostgresHuey (psycopg 3) in the
  app's own database, tables `huey_*` (created by huey, left out of Alembic's comparison), woken by
  LISTEN/NOTIFY, several workers dequeue with `FOR UPDATE SKIP LOCKED`.
- "immediate": each job runs inside the call that enqueues it (tests; huey's immediate mode).

Messages carry only a job id. Status, progress, results and errors live in PeerReady's `job`
table (`Job` in app/db/models.py), never in huey's result store (turned off).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from huey import MemoryHuey, PostgresHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer
from sqlalchemy.engine import Engine

from app.config import Settings
from app.jobs import runner
from app.jobs.registry import Periodic, periodic_work

log = logging.getLogger("peerready.jobs")

QUEUE_NAME = "peerready"
TASK_NAME = "peerready.run_job"
RETRY_BACKOFF = 2.0  # each retry waits twice as long as the one before
QUEUE_FILE = "queue.sqlite3"


def queue_mode(settings: Settings) -> str:
    if settings.queue == "auto":
        return "sqlite" if settings.is_sqlite else "postgres"
    return settings.queue


def postgres_dsn(settings: Settings) -> str:
    """The libpq form of DATABASE_URL (psycopg does not read SQLAlchemy's `+psycopg`)."""
    scheme, separator, rest = settings.sqlalchemy_url.partition("://")
    if not separator or scheme.split("+", 1)[0] != "postgresql":
        raise ValueError("PEERREADY_QUEUE=postgres needs DATABASE_URL to be a PostgreSQL URL.")
    return "postgresql://" + rest


def build_huey(settings: Settings) -> Huey:
    mode = queue_mode(settings)
    if mode == "immediate":
        return MemoryHuey(QUEUE_NAME, immediate=True, results=False, utc=True)
    if mode == "postgres":
        return PostgresHuey(
            QUEUE_NAME, dsn=postgres_dsn(settings), results=False, utc=True, table_prefix="huey"
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        QUEUE_NAME,
        filename=str((settings.data_dir / QUEUE_FILE).resolve()),
        results=False,
        utc=True,
        timeout=30,
    )


class _Consumer(Consumer):
    """huey's consumer, with SIGTERM as graceful as SIGINT (Ctrl+C, `docker stop`, systemd): running
    jobs hand themselves back at their next step and the process exits. A second signal stops at once."""

    def __init__(self, huey: Huey, **options: Any) -> None:
        super().__init__(huey, **options)
        self._signal_actions[signal.SIGINT] = (False, True)
        self._signal_actions[signal.SIGTERM] = (False, True)

    def stop(self, graceful: bool = False) -> None:
        runner.SHUTTING_DOWN.set()
        super().stop(graceful=graceful)


class JobQueue:
    """Enqueue jobs and run workers. Built from Settings and the engine the jobs' rows live in."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.mode = queue_mode(settings)
        self.huey = build_huey(settings)
        self._run_task = self.huey.task(name=TASK_NAME, context=True, retry_backoff=RETRY_BACKOFF)(self._run)
        for work in periodic_work():
            self._register_periodic(work)

    @property
    def immediate(self) -> bool:
        return self.mode == "immediate"

    # --- producing ----------------------------------------------------------------------------

    def enqueue(self, job_id: int, *, timeout: float | None = None, retries: int | None = None) -> None:
        """Ask a worker to run job `job_id` (at once in immediate mode)."""
        if retries is None:
            retries = self.settings.job_retries
        if self.immediate:
            retries = 0  # nothing would run a delayed retry; a failure is final, retry() re-runs it
        self.huey.enqueue(
            self._run_task.s(
                job_id, retries=retries, retry_delay=self.settings.job_retry_delay, timeout=timeout
            )
        )

    def pending(self) -> int:
        return int(self.huey.pending_count())

    def scheduled(self) -> int:
        return int(self.huey.scheduled_count())

    def flush(self) -> None:
        """Drop every message (tests)."""
        self.huey.flush()

    # --- consuming ----------------------------------------------------------------------------

    def _run(self, job_id: int, task: Any = None) -> str:
        retries_left = int(getattr(task, "retries", 0) or 0)
        delay = float(getattr(task, "retry_delay", 0) or 0)
        # runner.RetryLater propagates: huey counts the retry down and schedules it after the delay.
        return runner.run_job(
            job_id,
            engine=self.engine,
            settings=self.settings,
            retries_left=retries_left,
            retry_delay=delay,
            requeue=lambda handed_back: self.enqueue(handed_back),
        )

    def _register_periodic(self, work: Periodic) -> None:
        def run_periodic() -> None:
            work.run(self.engine, self.settings)

        run_periodic.__name__ = work.name
        schedule = crontab(minute=f"*/{work.every_minutes}")
        self.huey.periodic_task(schedule, name=f"peerready.{work.name}")(run_periodic)

    def run_consumer(self, *, workers: int = 1) -> None:
        """Run until SIGINT/SIGTERM: `workers` threads take jobs, a scheduler thread enqueues
        retries when their delay is over and runs the periodic tasks (stale-job reaper)."""
        runner.SHUTTING_DOWN.clear()
        runner.reap_stale(self.engine)
        consumer = _Consumer(
            self.huey, workers=workers, worker_type="thread", periodic=True, check_worker_health=True
        )
        consumer.run()

    def run_burst(self) -> int:
        """Run every job that is due (queued, or a retry whose delay is over), then return how many
        messages were handled. Periodic work runs once first."""
        runner.SHUTTING_DOWN.clear()
        previous = _stop_on_signals() if threading.current_thread() is threading.main_thread() else {}
        try:
            return self._burst()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _burst(self) -> int:
        huey = self.huey
        storage = huey.storage
        if hasattr(storage, "blocking"):
            storage.blocking = False  # PostgreSQL: do not wait on LISTEN when the queue is empty
        handled = 0
        for work in periodic_work():
            try:
                work.run(self.engine, self.settings)
            except Exception:
                log.exception("Periodic work %s failed", work.name)
        while not runner.SHUTTING_DOWN.is_set():
            for task in huey.read_schedule(huey._get_timestamp()):
                huey.enqueue(task)
            task = huey.dequeue()
            if task is None:
                break
            huey.execute(task)
            handled += 1
        return handled


def _stop_on_signals() -> dict[int, Any]:
    """SIGINT/SIGTERM during a burst: the running job hands itself back at its next step and the
    burst ends after it, like the consumer's graceful stop."""

    def stop(signum: int, frame: Any) -> None:
        log.info("Received %s: stopping after the current step.", signal.Signals(signum).name)
        runner.SHUTTING_DOWN.set()

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}


_QUEUES: dict[tuple[Any, ...], JobQueue] = {}
_QUEUES_LOCK = threading.Lock()


def get_queue(settings: Settings, engine: Engine) -> JobQueue:
    """The queue for these settings and this engine, built once per process."""
    key = (
        queue_mode(settings),
        settings.sqlalchemy_url,
        str(settings.data_dir.resolve()),
        settings.job_retries,
        settings.job_retry_delay,
        id(engine),
    )
    with _QUEUES_LOCK:
        queue = _QUEUES.get(key)
        if queue is None:
            queue = _QUEUES[key] = JobQueue(settings, engine)
        return queue
