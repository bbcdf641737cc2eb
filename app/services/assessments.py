"""Assessment cycles: start one, list them, open/close them, count their responses.

Callers pass the signed-in user; every lookup goes through app.services.access so one agency
never reaches another's cycles.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from app.db.models import (
    Answer,
    Assessment,
    AssessmentStatus,
    ImportBatch,
    Organization,
    Response,
    ResponseStatus,
    User,
    utcnow,
)
from app.disclosure import policy
from app.errors import BadInput, NotFound
from app.i18n import gettext
from app.instruments import catalog
from app.services import access, audit, instruments_store, locks, releases, scores, site_figures

LATEST = "latest"  # "follow-up of": the organization's most recent earlier cycle


@dataclass
class GroupCount:
    group: str
    submitted: int = 0
    in_progress: int = 0  # started, at least one answer
    not_started: int = 0  # opened the link, no answer yet
    submitted_imported: int = 0  # of `submitted`: paper rows of an approved import

    def at_close(self, threshold: int) -> tuple[bool, int]:
        """Whether this group's submitted answers would let it be shown on its own if the cycle
        closed now (the disclosure layer's rule, web answers reaching k on their own), and if not,
        how many more people must answer through the form."""
        web = self.submitted - self.submitted_imported
        sources = {"web": web, "import": self.submitted_imported}
        if policy.may_show_group(self.submitted, threshold, sources):
            return True, 0
        if web == 0:  # paper rows only: any further row counts
            return False, threshold - self.submitted
        return False, threshold - web

    @property
    def total(self) -> int:
        return self.submitted + self.in_progress + self.not_started


@dataclass
class ResponseCounts:
    groups: dict[str, GroupCount] = field(default_factory=dict)

    @property
    def submitted(self) -> int:
        return sum(g.submitted for g in self.groups.values())

    @property
    def in_progress(self) -> int:
        return sum(g.in_progress for g in self.groups.values())

    @property
    def not_started(self) -> int:
        return sum(g.not_started for g in self.groups.values())

    @property
    def counted(self) -> int:
        """Responses the results include: submitted ones only (app.services.scores.COUNTING_RULE).
        Every response rate divides this, so the consultant view and the portfolio agree."""
        return self.submitted


@dataclass
class AssessmentRow:
    assessment: Assessment
    organization: Organization
    counts: ResponseCounts


def organizations_for(session: Session, *, user: User) -> list[Organization]:
    access.require_org_role(user)
    allowed = access.organization_ids_for(session, user=user)
    query = select(Organization).order_by(Organization.name)
    if allowed is not None:
        if not allowed:
            return []
        query = query.where(col(Organization.id).in_(allowed))
    return list(session.exec(query))


def list_assessments(session: Session, *, user: User) -> list[AssessmentRow]:
    """The user's organizations' cycles, newest first, with response counts."""
    organizations = {o.id: o for o in organizations_for(session, user=user)}
    if not organizations:
        return []
    assessments = list(
        session.exec(
            select(Assessment)
            .where(col(Assessment.organization_id).in_(list(organizations)))
            .order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())
        )
    )
    counts = response_counts_many(session, assessment_ids=[a.id for a in assessments])
    return [
        AssessmentRow(a, organizations[a.organization_id], counts.get(a.id, ResponseCounts()))
        for a in assessments
    ]


def assessments_of(session: Session, *, organization_id: int) -> list[Assessment]:
    return list(
        session.exec(
            select(Assessment)
            .where(Assessment.organization_id == organization_id)
            .order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())
        )
    )


def organization_of(session: Session, *, assessment: Assessment) -> Organization:
    organization = session.get(Organization, assessment.organization_id)
    if organization is None:  # the foreign key makes this impossible short of manual edits
        raise NotFound(gettext("No such organization."))
    return organization


def previous_of(session: Session, *, assessment: Assessment) -> Assessment | None:
    """The cycle this one follows up, if any."""
    if assessment.previous_assessment_id is None:
        return None
    return session.get(Assessment, assessment.previous_assessment_id)


def latest_assessment(
    session: Session, *, organization_id: int, before_id: int | None = None
) -> Assessment | None:
    query = select(Assessment).where(Assessment.organization_id == organization_id)
    if before_id is not None:
        query = query.where(Assessment.id != before_id)
    return session.exec(query.order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())).first()


def create_assessment(
    session: Session,
    *,
    user: User,
    organization_id: int,
    name: str,
    instrument_id: str,
    close_date: date | None = None,
    expected_respondents: int | None = None,
    instruments_dir: Path,
    previous: int | str | None = LATEST,
) -> Assessment:
    """Start a cycle pinned to the instrument file's current text (stored as a snapshot).

    `previous` is the cycle this one follows up: an assessment id of the same organization,
    LATEST (the organization's most recent cycle, if any) or None (a baseline).
    """
    organization = access.get_organization(session, user=user, organization_id=organization_id)
    name = name.strip()
    if not name:
        raise BadInput(gettext("Give the cycle a name, for example “Baseline, spring 2027”."))
    if len(name) > 200:
        raise BadInput(gettext("The cycle name can be at most 200 characters."))
    if expected_respondents is not None and not 1 <= expected_respondents <= 10_000:
        raise BadInput(gettext("Expected respondents must be between 1 and 10,000."))
    if close_date is not None and close_date < utcnow().date():
        raise BadInput(gettext("The close date cannot be in the past."))
    offered = catalog.scan_folder(instruments_dir)
    loaded = offered.get(instrument_id)
    if loaded is None:
        if offered.problems_of(instrument_id):
            raise BadInput(
                gettext("The instrument %(instrument)s cannot be used until its file is fixed.")
                % {"instrument": repr(instrument_id)}
            )
        raise BadInput(
            gettext("There is no instrument called %(instrument)s.") % {"instrument": repr(instrument_id)}
        )

    previous_id: int | None
    if previous == LATEST:
        latest = latest_assessment(session, organization_id=organization.id)
        previous_id = latest.id if latest else None
    elif previous is None or previous == "":
        previous_id = None
    else:
        try:
            earlier = access.get_assessment(session, user=user, assessment_id=int(previous))
        except ValueError as exc:
            raise BadInput(gettext("Choose the earlier cycle from the list.")) from exc
        if earlier.organization_id != organization.id:
            raise BadInput(gettext("A follow-up must follow a cycle of the same organization."))
        previous_id = earlier.id

    version = instruments_store.snapshot(session, loaded=loaded)
    assessment = Assessment(
        organization_id=organization.id,
        instrument_version_id=version.id,
        name=name,
        close_date=close_date,
        expected_respondents=expected_respondents,
        previous_assessment_id=previous_id,
        created_by_id=user.id,
    )
    session.add(assessment)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="assessment.create",
        target=f"assessment:{assessment.id}",
        organization_id=organization.id,
        detail={
            "name": name,
            "instrument": instrument_id,
            "version": version.version,
            "content_hash": version.content_hash,
            "previous_assessment_id": previous_id,
        },
    )
    return assessment


def set_status(
    session: Session,
    *,
    user: User,
    assessment: Assessment,
    status: AssessmentStatus,
    privacy_threshold: int,
) -> None:
    """Close a cycle (no more answers; its results are released) or open the whole cycle again
    (respondents may change their own answers through their personal links; what was released
    stays released, and a new release follows the rules of app.disclosure.release at the next
    close).

    Opening again also clears a close date that has passed: otherwise "Open the cycle again"
    would say it is open while every respondent is still told the survey is closed.

    Takes the assessment's write lock first, so a submit or import in flight either commits
    before the close or waits for it and is refused."""
    locks.lock_assessment(session, assessment.id)
    session.refresh(assessment)
    detail: dict = {}
    if status == AssessmentStatus.open and assessment.close_date and assessment.close_date < utcnow().date():
        detail["cleared_close_date"] = assessment.close_date.isoformat()
        assessment.close_date = None
    if assessment.status == status and not detail:
        return
    assessment.status = status
    assessment.closed_at = utcnow() if status == AssessmentStatus.closed else None
    session.add(assessment)
    if status == AssessmentStatus.closed:
        # Imported here: email_invitations builds on this module (is_accepting_answers).
        from app.services.email_invitations import erase_addresses

        detail["email_addresses_erased"] = erase_addresses(session, assessment_id=assessment.id)
    audit.record(
        session,
        actor=user,
        action=f"assessment.{'close' if status == AssessmentStatus.closed else 'reopen'}",
        target=f"assessment:{assessment.id}",
        organization_id=assessment.organization_id,
        detail=detail,
    )
    session.flush()
    released = None
    if status == AssessmentStatus.closed:
        released = releases.release_at_close(
            session, assessment=assessment, privacy_threshold=privacy_threshold, actor=user
        )
    if released is None:  # (a new release refreshed them already)
        # The cycle's date (its close date, else the day it closed) is one of the portfolio's
        # stored figures: a reopen or a close that kept the last release can move it.
        site_figures.refresh(
            session, organization_ids=[assessment.organization_id], privacy_threshold=privacy_threshold
        )


def is_accepting_answers(assessment: Assessment) -> bool:
    return accepts_answers(assessment.status, assessment.close_date)


def accepts_answers(status: AssessmentStatus, close_date: date | None) -> bool:
    """Whether a cycle in this state takes answers: open, and its close date not passed."""
    if status != AssessmentStatus.open:
        return False
    return close_date is None or close_date >= utcnow().date()


def response_counts_many(session: Session, *, assessment_ids: list[int]) -> dict[int, ResponseCounts]:
    """Per assessment and group: submitted, in progress (any answer) and not started."""
    if not assessment_ids:
        return {}
    answered = (
        select(Answer.response_id, func.count().label("n")).group_by(col(Answer.response_id)).subquery()
    )
    # Rows of an import still waiting for the lead's approval are not counted (they are listed
    # apart, per group, as the pending import).
    # (Core's select: SQLModel's typed one takes at most four columns)
    rows = session.connection().execute(
        sql_select(
            col(Response.assessment_id),
            col(Response.group),
            col(Response.status),
            col(Response.source),
            answered.c.n,
        )
        .join(answered, answered.c.response_id == Response.id, isouter=True)
        .outerjoin(ImportBatch, col(ImportBatch.id) == Response.import_batch_id)
        .where(col(Response.assessment_id).in_(assessment_ids), scores.counts_in_results())
    )
    result: dict[int, ResponseCounts] = defaultdict(ResponseCounts)
    for assessment_id, group, status, source, n_answers in rows:
        counts = result[assessment_id].groups.setdefault(group, GroupCount(group))
        if status == ResponseStatus.submitted:
            counts.submitted += 1
            counts.submitted_imported += source == "import"
        elif n_answers:
            counts.in_progress += 1
        else:
            counts.not_started += 1
    return dict(result)


def response_counts(session: Session, *, assessment_id: int) -> ResponseCounts:
    return response_counts_many(session, assessment_ids=[assessment_id]).get(assessment_id, ResponseCounts())


def responses_of(session: Session, *, assessment_id: int) -> list[Response]:
    """The cycle's responses, for the status table (never their answers)."""
    return list(
        session.exec(
            select(Response).where(Response.assessment_id == assessment_id).order_by(col(Response.id))
        )
    )
