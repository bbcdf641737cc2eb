"""PeerReady's own record of background work: the `job` table (what users see: status, progress,
result, error) and the `joblock` table (short leases, so one report is never rendered by two jobs
at once). The queue library only carries "run job N" messages; this table is the truth.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, text
from sqlmodel import Field, SQLModel

from app.db.models import utcnow


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


ACTIVE_STATUSES = (JobStatus.queued, JobStatus.running)
FINISHED_STATUSES = (JobStatus.done, JobStatus.failed, JobStatus.cancelled)
_ACTIVE_SQL = "status IN ('queued', 'running')"


class Job(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed', 'cancelled')", name="status_known"
        ),
        # At most one queued-or-running job per lock key, enforced by the database on SQLite and
        # PostgreSQL alike: two clicks (or two app workers) starting the same work get one job.
        Index(
            "uq_job_active_lock_key",
            "lock_key",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    status: str = Field(default=JobStatus.queued, max_length=16, index=True)
    title: str = Field(max_length=300)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    lock_key: str | None = Field(default=None, max_length=200)
    # Who started it and what it concerns: the access check of every job page reads these.
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    organization_id: int | None = Field(
        default=None, foreign_key="organization.id", index=True, ondelete="CASCADE"
    )
    portfolio_id: int | None = Field(default=None, foreign_key="portfolio.id", index=True, ondelete="CASCADE")
    progress_done: int = 0
    progress_total: int | None = None
    progress_message: str | None = Field(default=None, max_length=300)
    cancel_requested: bool = False
    attempts: int = 0
    timeout_seconds: int | None = None
    # Path relative to the data folder, the name a download gets, and what else the job reports.
    result_path: str | None = Field(default=None, max_length=500)
    result_filename: str | None = Field(default=None, max_length=200)
    result_media_type: str | None = Field(default=None, max_length=100)
    result_detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    worker: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # Touched while a job runs; a running job whose heartbeat stops was lost with its worker.
    heartbeat_at: datetime | None = None
    # A retry waits for its backoff delay: not due before this time.
    run_after: datetime | None = None


class JobLock(SQLModel, table=True):
    """A lease on a piece of work ("report:12:letter") held by one job until released or expired."""

    key: str = Field(primary_key=True, max_length=200)
    job_id: int | None = Field(default=None, foreign_key="job.id", ondelete="CASCADE")
    acquired_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
