"""Who may see what. Every route that touches organization data goes through these functions.

- admin: everything.
- consultant, org_lead: the organizations they are members of (Membership rows).
- funder: no organization pages at all; aggregates of the portfolios they belong to.
- respondent: no account; their own response through its token (app/services/responses.py).

Objects of another organization answer 404, not 403, so ids do not reveal what exists.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.db.models import (
    Assessment,
    Membership,
    Organization,
    Portfolio,
    PortfolioMembership,
    PortfolioSite,
    Role,
    User,
)
from app.errors import Forbidden, NotFound
from app.i18n import N_

ORG_ROLES = (Role.admin, Role.consultant, Role.org_lead)
# Primary keys are 32-bit integers in PostgreSQL; a larger id in a URL must be a 404, not a
# database error (found by the API fuzz run).
MAX_ID = 2**31 - 1


def is_valid_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def get_row(session: Session, model: type, row_id: int, *, missing: str):
    """`session.get` for an id from a URL or a form: NotFound for ids that cannot exist."""
    row = session.get(model, row_id) if is_valid_id(row_id) else None
    if row is None:
        raise NotFound(missing)
    return row


def organization_ids_for(session: Session, *, user: User) -> set[int] | None:
    """The organizations `user` may open, or None meaning all of them (admin)."""
    if user.role == Role.admin:
        return None
    if user.role not in ORG_ROLES:
        return set()
    rows = session.exec(select(Membership.organization_id).where(Membership.user_id == user.id))
    return set(rows)


def require_org_role(user: User) -> None:
    if user.role not in ORG_ROLES:
        raise Forbidden(N_("Your role does not give access to organization results."))


def get_organization(session: Session, *, user: User, organization_id: int) -> Organization:
    require_org_role(user)
    allowed = organization_ids_for(session, user=user)
    organization = session.get(Organization, organization_id) if is_valid_id(organization_id) else None
    if organization is None or (allowed is not None and organization_id not in allowed):
        raise NotFound(N_("No such organization."))
    return organization


def get_assessment(session: Session, *, user: User, assessment_id: int) -> Assessment:
    require_org_role(user)
    assessment = session.get(Assessment, assessment_id) if is_valid_id(assessment_id) else None
    if assessment is None:
        raise NotFound(N_("No such assessment."))
    allowed = organization_ids_for(session, user=user)
    if allowed is not None and assessment.organization_id not in allowed:
        raise NotFound(N_("No such assessment."))
    return assessment


def portfolio_ids_for(session: Session, *, user: User) -> set[int] | None:
    if user.role == Role.admin:
        return None
    if user.role != Role.funder:
        return set()
    rows = session.exec(
        select(PortfolioMembership.portfolio_id).where(PortfolioMembership.user_id == user.id)
    )
    return set(rows)


def get_portfolio(session: Session, *, user: User, portfolio_id: int) -> Portfolio:
    if user.role not in (Role.admin, Role.funder):
        raise Forbidden(N_("Only funders and administrators see portfolios."))
    portfolio = session.get(Portfolio, portfolio_id) if is_valid_id(portfolio_id) else None
    allowed = portfolio_ids_for(session, user=user)
    if portfolio is None or (allowed is not None and portfolio_id not in allowed):
        raise NotFound(N_("No such portfolio."))
    return portfolio


def portfolio_site_ids(session: Session, *, portfolio_id: int) -> list[int]:
    rows = session.exec(
        select(PortfolioSite.organization_id).where(PortfolioSite.portfolio_id == portfolio_id)
    )
    return list(rows)


def organizations_of_assessments(
    session: Session, *, user: User, assessment_ids: list[int]
) -> dict[int, int]:
    """assessment id -> organization id, for ids `user` may see: NotFound names the first other one
    (one query per 500 ids, the same answers as `get_assessment`)."""
    require_org_role(user)
    allowed = organization_ids_for(session, user=user)
    found: dict[int, int] = {}
    for start in range(0, len(assessment_ids), 500):
        chunk = assessment_ids[start : start + 500]
        rows = session.exec(
            select(Assessment.id, Assessment.organization_id).where(col(Assessment.id).in_(chunk))
        )
        found.update({int(a): int(o) for a, o in rows if a is not None})
    for assessment_id in assessment_ids:
        organization_id = found.get(assessment_id)
        if organization_id is None or (allowed is not None and organization_id not in allowed):
            raise NotFound(N_("No such assessment: %(id)s."), params={"id": assessment_id})
    return found


def organization_name(session: Session, *, organization_id: int) -> str:
    organization = session.get(Organization, organization_id)
    return organization.name if organization else "an agency"
