"""The consultant workspace: every client organization's cycles at a glance, in a few set-based
queries. Organizations come from `access.organization_ids_for`, so a consultant sees exactly the
agencies they are a member of (an administrator sees all)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db.models import Assessment, Commentary, InstrumentVersion, Organization, Response, Role, User
from app.errors import Forbidden
from app.scoring.numbers import rate_value
from app.services import access
from app.services.assessments import ResponseCounts, response_counts_many

WORKSPACE_ROLES = (Role.admin, Role.consultant)


@dataclass
class ClientCycle:
    assessment: Assessment
    instrument_title: str
    counts: ResponseCounts
    last_activity: datetime | None
    has_commentary: bool

    @property
    def response_rate(self) -> float | None:
        expected = self.assessment.expected_respondents
        if not expected:
            return None
        # The portfolio's rule (docs/portfolio-exports.md): counted responses ÷ expected, one
        # rounding, so both views print the same figure for the same cycle.
        return rate_value(Fraction(self.counts.counted, expected))


@dataclass
class ClientOrganization:
    organization: Organization
    cycles: list[ClientCycle] = field(default_factory=list)

    @property
    def last_activity(self) -> datetime | None:
        times = [c.last_activity for c in self.cycles if c.last_activity is not None]
        return max(times) if times else None


def require_workspace_role(user: User) -> None:
    if user.role not in WORKSPACE_ROLES:
        raise Forbidden("The consultant workspace is for consultants and administrators.")


def client_overview(session: Session, *, user: User) -> list[ClientOrganization]:
    """The user's client organizations by name, each with its cycles newest first."""
    require_workspace_role(user)
    allowed = access.organization_ids_for(session, user=user)
    org_query = select(Organization).order_by(Organization.name)
    if allowed is not None:
        if not allowed:
            return []
        org_query = org_query.where(col(Organization.id).in_(sorted(allowed)))
    clients = {o.id: ClientOrganization(o) for o in session.exec(org_query)}
    if not clients:
        return []
    cycles = session.exec(
        select(Assessment, InstrumentVersion.title)
        .join(InstrumentVersion, col(InstrumentVersion.id) == Assessment.instrument_version_id)
        .where(col(Assessment.organization_id).in_(list(clients)))
        .order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())
    ).all()
    ids = [a.id for a, _ in cycles]
    counts = response_counts_many(session, assessment_ids=ids)
    activity = dict(
        session.exec(
            select(Response.assessment_id, func.max(Response.updated_at))
            .where(col(Response.assessment_id).in_(ids or [-1]))
            .group_by(Response.assessment_id)
        ).all()
    )
    commented = set(
        session.exec(select(Commentary.assessment_id).where(col(Commentary.assessment_id).in_(ids or [-1])))
    )
    for assessment, title in cycles:
        clients[assessment.organization_id].cycles.append(
            ClientCycle(
                assessment=assessment,
                instrument_title=title,
                counts=counts.get(assessment.id, ResponseCounts()),
                last_activity=activity.get(assessment.id),
                has_commentary=assessment.id in commented,
            )
        )
    return list(clients.values())
