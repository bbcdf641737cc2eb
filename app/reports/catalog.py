"""Which assessments exist and which ones a batch report covers (command-line use: the
operator of the instance sees every organization, so there is no per-user filter here)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db.models import Assessment, Organization, Portfolio, PortfolioSite, Response, ResponseStatus
from app.errors import NotFound


@dataclass(frozen=True)
class AssessmentRow:
    id: int
    organization: str
    cycle: str
    status: str
    respondents: int  # responses started (submitted or in progress)
    submitted: int

    def as_dict(self) -> dict:
        return asdict(self)


def list_assessments(session: Session) -> list[AssessmentRow]:
    counts: dict[int, list[int]] = {}
    rows = session.exec(
        select(Response.assessment_id, Response.status, func.count()).group_by(
            Response.assessment_id, Response.status
        )
    )
    for assessment_id, status, n in rows:
        entry = counts.setdefault(assessment_id, [0, 0])
        entry[0] += n
        if status == ResponseStatus.submitted:
            entry[1] += n
    result = []
    query = (
        select(Assessment, Organization.name)
        .join(Organization, col(Organization.id) == Assessment.organization_id)
        .order_by(Organization.name, col(Assessment.created_at), col(Assessment.id))
    )
    for assessment, organization in session.exec(query):
        total, submitted = counts.get(assessment.id, (0, 0))  # type: ignore[arg-type]
        result.append(
            AssessmentRow(
                id=assessment.id,  # type: ignore[arg-type]
                organization=organization,
                cycle=assessment.name,
                status=str(assessment.status),
                respondents=total,
                submitted=submitted,
            )
        )
    return result


def latest_assessment_ids_for_portfolio(session: Session, *, portfolio_id: int) -> list[int]:
    """The newest assessment of each site of the portfolio (sites without one are skipped)."""
    if session.get(Portfolio, portfolio_id) is None:
        raise NotFound(f"No portfolio with id {portfolio_id}.")
    site_ids = list(
        session.exec(select(PortfolioSite.organization_id).where(PortfolioSite.portfolio_id == portfolio_id))
    )
    result = []
    for organization_id in sorted(site_ids):
        latest = session.exec(
            select(Assessment.id)
            .where(Assessment.organization_id == organization_id)
            .order_by(col(Assessment.created_at).desc(), col(Assessment.id).desc())
            .limit(1)
        ).first()
        if latest is not None:
            result.append(latest)
    return result
