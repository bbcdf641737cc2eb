"""Database tables (SQLModel). Every row that holds what people said belongs to an organization.

Access rules live in app/services/access.py; queries in app/services/*. Changing a table means
adding an Alembic migration (app/db/migrations/versions).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

# Named constraints, so later migrations can refer to them on SQLite and PostgreSQL alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    # Aware UTC: sqlmodel's UTCDateTime columns (migration 0001) refuse naive datetimes on insert.
    return datetime.now(UTC)


# Primary keys are typed `int`, not `int | None`: the database assigns them, and every row the code
# reads was loaded or flushed, so its id is set. Only a row just constructed has None there, until
# session.flush(); code that needs the new id flushes first (as the services do).


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime; a naive one is taken to be UTC already (as stored)."""
    return moment.replace(tzinfo=UTC) if moment.utcoffset() is None else moment.astimezone(UTC)


class Role(StrEnum):
    admin = "admin"
    consultant = "consultant"
    org_lead = "org_lead"
    funder = "funder"


class Organization(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    region: str | None = Field(default=None, max_length=100)
    cohort: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    # The agency agreed to share de-identified row-level answers for research (docs/privacy.md).
    # Off by default; only an administrator switches it, and every switch is audited.
    research_sharing: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class Portfolio(SQLModel, table=True):
    """A funder's set of sites."""

    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)


class PortfolioSite(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("portfolio_id", "organization_id"),)
    id: int = Field(default=None, primary_key=True)
    portfolio_id: int = Field(foreign_key="portfolio.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    region: str | None = Field(default=None, max_length=100)
    cohort: str | None = Field(default=None, max_length=100)


class User(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=500)
    role: Role
    is_active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    lockouts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None
    # The interface language the user chose in their account; None: the browser's (Accept-Language).
    language: str | None = Field(default=None, max_length=16)
    # Set when an administrator creates the account or resets its password: the next sign-in
    # leads to "Change your password" until the user has chosen their own.
    must_change_password: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class UserSession(SQLModel, table=True):
    """A signed-in browser. The session cookie holds only a random token; its SHA-256 is stored
    here and checked on every request, so deleting the row ends that sign-in at once (sign-out,
    password change, role change, an administrator's "end all sessions")."""

    id: int = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class Membership(SQLModel, table=True):
    """Links an org lead or a consultant to an organization they may see."""

    __table_args__ = (UniqueConstraint("user_id", "organization_id"),)
    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")


class PortfolioMembership(SQLModel, table=True):
    """Links a funder to a portfolio whose aggregates they may see."""

    __table_args__ = (UniqueConstraint("user_id", "portfolio_id"),)
    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    portfolio_id: int = Field(foreign_key="portfolio.id", index=True, ondelete="CASCADE")


class InstrumentVersion(SQLModel, table=True):
    """A snapshot of an instrument file as it was when an assessment started with it."""

    __table_args__ = (UniqueConstraint("instrument_id", "content_hash"),)
    id: int = Field(default=None, primary_key=True)
    instrument_id: str = Field(max_length=64, index=True)
    version: str = Field(max_length=32)
    content_hash: str = Field(max_length=64)
    title: str = Field(max_length=300)
    source_yaml: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class AssessmentStatus(StrEnum):
    open = "open"
    closed = "closed"


class Assessment(SQLModel, table=True):
    """One assessment cycle of one organization ("Baseline, spring 2027")."""

    id: int = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    instrument_version_id: int = Field(foreign_key="instrumentversion.id")
    name: str = Field(max_length=200)
    status: AssessmentStatus = AssessmentStatus.open
    close_date: date | None = None
    previous_assessment_id: int | None = Field(default=None, foreign_key="assessment.id")
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    # Expected respondents, for response rates (optional).
    expected_respondents: int | None = None


class Invitation(SQLModel, table=True):
    """A link for one respondent group. Only the SHA-256 of its token is stored."""

    id: int = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    group: str = Field(max_length=64)
    label: str | None = Field(default=None, max_length=200)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    # A link for one shared device (an office PC, a tablet at a meeting): after each submit the
    # device forgets the response and goes back to the start for the next person.
    kiosk: bool = False


class ResponseStatus(StrEnum):
    in_progress = "in_progress"
    submitted = "submitted"


class Response(SQLModel, table=True):
    """One respondent's answers. Reached only through its own resume token (stored hashed)."""

    id: int = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    invitation_id: int | None = Field(default=None, foreign_key="invitation.id", ondelete="SET NULL")
    group: str = Field(max_length=64)
    token_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    status: ResponseStatus = ResponseStatus.in_progress
    source: str = Field(default="web", max_length=20)  # web | import
    # Imported rows belong to an import batch; they count only once an org lead approved it.
    import_batch_id: int | None = Field(
        default=None, foreign_key="importbatch.id", index=True, ondelete="CASCADE"
    )
    last_page: int = 0
    # The language the response is answered in (the link's, the switch's, or the browser's);
    # None for imported paper responses and for responses started before languages existed.
    language: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None


class ImportBatchStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class ImportBatch(SQLModel, table=True):
    """One paper import (CSV) into a cycle: pending until an org lead of the agency approves it
    (docs/privacy.md, "Padding by import"). Its rows are Responses with import_batch_id set."""

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    status: str = Field(default=ImportBatchStatus.pending, max_length=16)
    filename: str = Field(default="", max_length=200)
    sha256: str = Field(default="", max_length=64)
    n_rows: int = 0
    by_group: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = None


class Release(SQLModel, table=True):
    """A frozen release of an assessment's results (docs/privacy.md, "Releases"): the scorecard
    after disclosure control, as every page, PDF, export and the API show it. Made when a cycle
    closes; never changed or withdrawn afterwards."""

    __table_args__ = (UniqueConstraint("assessment_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    number: int
    created_at: datetime = Field(default_factory=utcnow)
    scorecard: dict = Field(sa_column=Column(JSON, nullable=False))
    n_respondents: int = 0
    n_web: int = 0
    n_imported: int = 0
    # Internal, never shown: the answer fingerprint of each counted response (to count changes
    # for the next release) and the member ids of every released cell (for the release audit).
    members: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    cells: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The comments released with the figures (domain_id, text, group label or null), already
    # filtered by app.disclosure.view.comment_visibility. Never shown to funders.
    comments: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Answer(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("response_id", "item_id"),)
    id: int = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id", index=True, ondelete="CASCADE")
    item_id: str = Field(max_length=64)
    value: str = Field(max_length=32)
    updated_at: datetime = Field(default_factory=utcnow)


class Comment(SQLModel, table=True):
    """Free text per condition. Never shown to funders."""

    __table_args__ = (UniqueConstraint("response_id", "domain_id"),)
    id: int = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="response.id", index=True, ondelete="CASCADE")
    domain_id: str = Field(max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


class AssessmentScore(SQLModel, table=True):
    """The stored scorecard of an assessment, refreshed whenever its responses change."""

    assessment_id: int = Field(primary_key=True, foreign_key="assessment.id", ondelete="CASCADE")
    scorecard: dict = Field(sa_column=Column(JSON, nullable=False))
    n_respondents: int = 0
    n_submitted: int = 0
    computed_at: datetime = Field(default_factory=utcnow)


class DomainScore(SQLModel, table=True):
    """Site-level score per condition, denormalized from the scorecard for portfolio queries."""

    __table_args__ = (UniqueConstraint("assessment_id", "domain_id"),)
    id: int = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    domain_id: str = Field(max_length=64)
    score: float | None = None
    level_id: str | None = Field(default=None, max_length=64)
    n: int = 0
    sd: float | None = None


class SiteFigures(SQLModel, table=True):
    """What a funder's portfolio shows of one site (app.services.site_figures): its latest and
    baseline completed cycles and their figures AFTER the portfolio's privacy rules, written when
    a cycle of the site is released, closed or reopened, so a portfolio page sorts, pages and
    summarizes 5,000 sites in SQL instead of applying the rules to every site on every request.

    `scope` is '' for all instruments, else an instrument id (the portfolio's instrument filter).
    `last_release_id` and `n_releases` (the site's newest release and its number of releases) and
    `threshold` say which releases and privacy threshold the row was made from; a row that no
    longer matches is made again before it is read. Derived from the releases: never edited, only
    replaced. A site with releases but no completed cycle has a row with status
    no_completed_cycle (scope '' only)."""

    organization_id: int = Field(primary_key=True, foreign_key="organization.id", ondelete="CASCADE")
    scope: str = Field(primary_key=True, max_length=64)
    last_release_id: int
    n_releases: int
    threshold: int
    status: str = Field(max_length=32)  # scored, below_threshold or no_completed_cycle
    latest_assessment_id: int | None = None
    baseline_assessment_id: int | None = None
    latest_version_id: int | None = None
    cycle_date: date | None = None
    n_respondents: int | None = None  # as shown: None below the privacy threshold
    response_rate: float | None = None  # as shown


class SiteConditionFigures(SQLModel, table=True):
    """One condition of a scored site's latest cycle as the portfolio shows it (shown score,
    level, n and status after the privacy rules; the change from the baseline when the baseline's
    instrument has the condition). `score_bin` is the 10-point bin of the shown score (0-9)."""

    __table_args__ = (Index("ix_siteconditionfigures_scope_condition", "scope", "condition_id", "score"),)
    organization_id: int = Field(primary_key=True, foreign_key="organization.id", ondelete="CASCADE")
    scope: str = Field(primary_key=True, max_length=64)
    condition_id: str = Field(primary_key=True, max_length=64)
    status: str = Field(max_length=16)  # shown, suppressed or no_score
    score: float | None = None
    level_id: str | None = Field(default=None, max_length=64)
    n: int | None = None
    score_bin: int | None = None
    has_change: bool = False
    baseline_score: float | None = None
    change: float | None = None


class PlanStatus(StrEnum):
    proposed = "proposed"  # recommended by the rules, not yet decided
    accepted = "accepted"
    in_progress = "in_progress"
    done = "done"
    dismissed = "dismissed"


class PlanItem(SQLModel, table=True):
    """An action in an organization's plan. The plan belongs to the organization, so it survives
    reassessment; `assessment_id` records the cycle it came from."""

    id: int = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    assessment_id: int | None = Field(default=None, foreign_key="assessment.id", ondelete="SET NULL")
    action_id: str | None = Field(default=None, max_length=64)  # None for a custom action
    domain_id: str | None = Field(default=None, max_length=64)
    title: str = Field(max_length=300)
    rationale: str | None = Field(default=None, sa_column=Column(Text))
    steps: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    timeframe: str | None = Field(default=None, max_length=100)
    evidence: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: PlanStatus = PlanStatus.proposed
    owner: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    notes: str | None = Field(default=None, sa_column=Column(Text))
    rank: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Commentary(SQLModel, table=True):
    """A consultant's commentary on an assessment; printed in its PDF."""

    assessment_id: int = Field(primary_key=True, foreign_key="assessment.id", ondelete="CASCADE")
    text: str = Field(sa_column=Column(Text, nullable=False))
    author_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    updated_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    id: int = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    actor: str = Field(max_length=300)  # email, "respondent #12" or "system"
    action: str = Field(max_length=100, index=True)
    target: str | None = Field(default=None, max_length=200)
    organization_id: int | None = Field(default=None, index=True)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RateLimitBucket(SQLModel, table=True):
    """Failed attempts (sign-ins by address and by email, invitation-token guesses) counted per
    bucket in a fixed window; updated atomically by app/services/ratelimit.py."""

    key: str = Field(primary_key=True, max_length=200)
    hits: int = 0
    window_start: datetime = Field(default_factory=utcnow, index=True)


# --- background jobs (app/jobs) -------------------------------------------------------------
# PeerReady's own record of background work: the `job` table (what users see: status, progress,
# result, error) and the `joblock` table (short leases, so one report is never rendered by two jobs
# at once). The queue library only carries "run job N" messages; this table is the truth.


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
    id: int = Field(default=None, primary_key=True)
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


# --- email (app/services/mail.py, app/services/email_invitations.py) ------------------------
# A cycle's emailed people, the messages PeerReady sent or kept in its outbox, each cycle's
# reminder schedule and staff password-reset tokens. Addresses are erased when a cycle closes.


class RecipientStatus(StrEnum):
    queued = "queued"  # the invitation waits for its send time
    sending = "sending"  # claimed by one sender (two workers never mail one person twice)
    sent = "sent"
    failed = "failed"  # the mail server refused it; the reply is in last_error
    opted_out = "opted_out"
    bounced = "bounced"  # marked by the lead after a bounce reached them


class EmailRecipient(SQLModel, table=True):
    """One emailed person of a cycle. Their personal link is derived from `link_nonce` and the
    secret key (only its SHA-256 is stored), and opens the one response `response_id`."""

    __table_args__ = (UniqueConstraint("assessment_id", "email_hash"),)
    id: int = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    group: str = Field(max_length=64)
    # None once the cycle closes; the keyed hash stays, so an opted-out address is never re-added.
    email: str | None = Field(default=None, max_length=254)
    email_hash: str = Field(max_length=64)
    language: str = Field(default="en", max_length=16)
    link_nonce: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    response_id: int | None = Field(default=None, foreign_key="response.id", ondelete="SET NULL")
    status: str = Field(default=RecipientStatus.queued, max_length=16, index=True)
    send_at: datetime = Field(default_factory=utcnow)
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    last_sent_at: datetime | None = None
    reminders_sent: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    opted_out_at: datetime | None = None
    bounced_at: datetime | None = None
    created_by_id: int | None = Field(default=None, foreign_key="user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class EmailSchedule(SQLModel, table=True):
    """A cycle's reminder rule (defaults apply when a cycle has no row)."""

    assessment_id: int = Field(primary_key=True, foreign_key="assessment.id", ondelete="CASCADE")
    reminder_days: int = 7
    max_reminders: int = 2


class EmailMessage(SQLModel, table=True):
    """Every message PeerReady sent, failed to send or kept in its outbox (no SMTP host set).
    Bodies (which hold personal links) are kept only for the outbox, which admins read."""

    id: int = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # invitation | reminder | password_reset
    assessment_id: int | None = Field(
        default=None, foreign_key="assessment.id", index=True, ondelete="CASCADE"
    )
    recipient_id: int | None = Field(
        default=None, foreign_key="emailrecipient.id", index=True, ondelete="CASCADE"
    )
    to_address: str | None = Field(default=None, max_length=254)
    subject: str = Field(max_length=300)
    body_text: str | None = Field(default=None, sa_column=Column(Text))
    body_html: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(max_length=16)  # outbox | sent | failed
    error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class PasswordReset(SQLModel, table=True):
    """A one-time password-reset link for a staff account; only the token's SHA-256 is stored."""

    id: int = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    link_nonce: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
